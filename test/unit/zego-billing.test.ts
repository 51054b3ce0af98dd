import {
  computeBilling,
  parsePriceTable,
  priceTierSeconds,
  tierOf,
  ZEGO_LIST_PRICES,
  type BillingSegment,
} from '../../src/zego/billing';
import type { TranscodeOutput } from '../../src/zego/types';

const P = ZEGO_LIST_PRICES;
const HD: TranscodeOutput = { Width: 1280, Height: 720 };
const SD: TranscodeOutput = { Width: 640, Height: 360 };
const FHD: TranscodeOutput = { Width: 1920, Height: 1080 };
const T0 = 1_700_000_000_000;

describe('ZEGO_LIST_PRICES', () => {
  it('is the published list (CNY per 1000 min), uhd defaulting to the fhd price', () => {
    expect(P).toEqual({ audio: 7, sd: 12, hd: 25, fhd: 98, uhd: 98 });
    expect(Object.isFrozen(P)).toBe(true);
  });
});

describe('tierOf', () => {
  it.each<[TranscodeOutput, string]>([
    [{ Width: 640, Height: 360 }, 'sd'],
    [{ Width: 360, Height: 640 }, 'sd'],
    [{ Width: 960, Height: 540 }, 'hd'],
    [{ Width: 1280, Height: 720 }, 'hd'],
    [{ Width: 720, Height: 1280 }, 'hd'],
    [{ Width: 1280, Height: 722 }, 'fhd'],
    [{ Width: 1920, Height: 1080 }, 'fhd'],
    [{ Width: 1080, Height: 1920 }, 'fhd'],
    [{ Width: 2560, Height: 1440 }, 'uhd'],
    [{ Width: 3000, Height: 3000 }, 'uhd'],
    [{ ShortEdgeAdaption: 1, Width: 720 }, 'hd'],
    [{ ShortEdgeAdaption: 1, Width: 360, Height: 2000 }, 'sd'],
    [{ ShortEdgeAdaption: 1, Width: 1080, Height: 0 }, 'fhd'],
  ])('%j → %s', (output, tier) => {
    expect(tierOf(output)).toBe(tier);
  });

  it('unknown resolution (0 = same as input, or absent) → the configured tier, default hd', () => {
    expect(tierOf({})).toBe('hd');
    expect(tierOf({ Width: 0, Height: 0 })).toBe('hd');
    expect(tierOf({ Width: 1280 })).toBe('hd');
    expect(tierOf({ Width: 0, Height: 0 }, 'fhd')).toBe('fhd');
    expect(tierOf({ ShortEdgeAdaption: 1, Width: 0, Height: 480 }, 'uhd')).toBe('uhd');
  });
});

describe('priceTierSeconds', () => {
  it("the pricing page's worked example: 200 SD + 100 HD + 50 FHD + 400 audio min = exactly 12.60 CNY", () => {
    const result = priceTierSeconds({ sd: 200 * 60, hd: 100 * 60, fhd: 50 * 60, audio: 400 * 60 }, P);
    expect(result).toEqual({
      billableSeconds: 750 * 60,
      billableMinutes: 750,
      lines: [
        { tier: 'audio', seconds: 24000, minutes: 400, cost: 2.8 },
        { tier: 'sd', seconds: 12000, minutes: 200, cost: 2.4 },
        { tier: 'hd', seconds: 6000, minutes: 100, cost: 2.5 },
        { tier: 'fhd', seconds: 3000, minutes: 50, cost: 4.9 },
      ],
      currency: 'CNY',
      totalCost: 12.6,
    });
    // Exactly the double 12.6, not 12.600000000000001.
    expect(Object.is(result.totalCost, 12.6)).toBe(true);
  });

  it('rounds up to whole minutes: 61 s → 2 min', () => {
    expect(priceTierSeconds({ hd: 61 }, P).lines).toEqual([
      { tier: 'hd', seconds: 61, minutes: 2, cost: 0.05 },
    ]);
    expect(priceTierSeconds({ hd: 1 }, P).lines).toEqual([
      { tier: 'hd', seconds: 1, minutes: 1, cost: 0.025 },
    ]);
  });

  it('rounds cost to 6 decimals, half up', () => {
    // 1 min × 0.0015 / 1000 = 0.0000015 → 0.000002
    expect(priceTierSeconds({ sd: 60 }, { ...P, sd: 0.0015 }).totalCost).toBe(0.000002);
    expect(priceTierSeconds({ sd: 60 }, { ...P, sd: 0.0014 }).totalCost).toBe(0.000001);
  });

  it('no lines for zero, negative or absent tiers', () => {
    expect(priceTierSeconds({ sd: 0, hd: -5 }, P)).toEqual({
      billableSeconds: 0,
      billableMinutes: 0,
      lines: [],
      currency: 'CNY',
      totalCost: 0,
    });
  });

  it('sums many lines without float drift', () => {
    const prices = { audio: 0.1, sd: 0.2, hd: 0.3, fhd: 0.7, uhd: 0.9 };
    const result = priceTierSeconds(
      { audio: 60_000, sd: 60_000, hd: 60_000, fhd: 60_000, uhd: 60_000 },
      prices,
    );
    expect(result.totalCost).toBe(2.2);
  });
});

describe('computeBilling', () => {
  it('the contract example: 600 s at 1280×720 → hd 10 min, 0.25 CNY', () => {
    const result = computeBilling([{ fromMs: T0, outputs: [HD] }], T0 + 600_000, P);
    expect(result).toEqual({
      billableSeconds: 600,
      billableMinutes: 10,
      lines: [{ tier: 'hd', seconds: 600, minutes: 10, cost: 0.25 }],
      currency: 'CNY',
      totalCost: 0.25,
    });
  });

  it('rounds milliseconds up to seconds and seconds up to minutes', () => {
    expect(computeBilling([{ fromMs: T0, outputs: [HD] }], T0 + 60_001, P).lines).toEqual([
      { tier: 'hd', seconds: 61, minutes: 2, cost: 0.05 },
    ]);
  });

  it('bills each output on its own (multi-output)', () => {
    const result = computeBilling([{ fromMs: T0, outputs: [HD, HD, SD, FHD] }], T0 + 90_000, P);
    expect(result.lines).toEqual([
      { tier: 'sd', seconds: 90, minutes: 2, cost: 0.024 },
      { tier: 'hd', seconds: 180, minutes: 3, cost: 0.075 },
      { tier: 'fhd', seconds: 90, minutes: 2, cost: 0.196 },
    ]);
    expect(result.billableSeconds).toBe(360);
    expect(result.billableMinutes).toBe(7);
    expect(result.totalCost).toBe(0.295);
  });

  it('sums a tier over the whole lifecycle before rounding (segments)', () => {
    // hd 30 s, then fhd 30 s, then hd 30 s again: hd = 60 s = 1 min, not 2.
    const segments: BillingSegment[] = [
      { fromMs: T0, outputs: [HD] },
      { fromMs: T0 + 30_000, outputs: [FHD] },
      { fromMs: T0 + 60_000, outputs: [HD] },
    ];
    expect(computeBilling(segments, T0 + 90_000, P).lines).toEqual([
      { tier: 'hd', seconds: 60, minutes: 1, cost: 0.025 },
      { tier: 'fhd', seconds: 30, minutes: 1, cost: 0.098 },
    ]);
  });

  it('sorts segments by fromMs', () => {
    const segments: BillingSegment[] = [
      { fromMs: T0 + 120_000, outputs: [SD] },
      { fromMs: T0, outputs: [FHD] },
    ];
    expect(computeBilling(segments, T0 + 180_000, P).lines).toEqual([
      { tier: 'sd', seconds: 60, minutes: 1, cost: 0.012 },
      { tier: 'fhd', seconds: 120, minutes: 2, cost: 0.196 },
    ]);
  });

  it('portrait outputs are tiered by their short edge', () => {
    expect(
      computeBilling([{ fromMs: T0, outputs: [{ Width: 720, Height: 1280 }] }], T0 + 60_000, P).lines,
    ).toEqual([{ tier: 'hd', seconds: 60, minutes: 1, cost: 0.025 }]);
  });

  it('unknown resolution uses the configured tier', () => {
    const segments = [{ fromMs: T0, outputs: [{ Width: 0, Height: 0 }] }];
    expect(computeBilling(segments, T0 + 60_000, P).lines[0].tier).toBe('hd');
    expect(computeBilling(segments, T0 + 60_000, P, { unknownResolutionTier: 'uhd' }).lines).toEqual([
      { tier: 'uhd', seconds: 60, minutes: 1, cost: 0.098 },
    ]);
  });

  it('never bills negative time or time after the end', () => {
    expect(computeBilling([{ fromMs: T0, outputs: [HD] }], T0 - 5000, P).lines).toEqual([]);
    // A segment starting after the end bills nothing, and does not stretch the one before it.
    const segments = [
      { fromMs: T0, outputs: [HD] },
      { fromMs: T0 + 120_000, outputs: [FHD] },
    ];
    expect(computeBilling(segments, T0 + 60_000, P).lines).toEqual([
      { tier: 'hd', seconds: 60, minutes: 1, cost: 0.025 },
    ]);
  });

  it('a stale bill and its amendment: the same segments to the stale deadline, then to the own stop', () => {
    // HD from the start; an update to SD 30 min in, after the 20-minute stale deadline.
    const segments: BillingSegment[] = [
      { fromMs: T0, outputs: [HD] },
      { fromMs: T0 + 1_800_000, outputs: [SD] },
    ];
    expect(computeBilling(segments, T0 + 1_200_000, P)).toEqual({
      billableSeconds: 1200,
      billableMinutes: 20,
      lines: [{ tier: 'hd', seconds: 1200, minutes: 20, cost: 0.5 }],
      currency: 'CNY',
      totalCost: 0.5,
    });
    expect(computeBilling(segments, T0 + 3_600_000, P)).toEqual({
      billableSeconds: 3600,
      billableMinutes: 60,
      lines: [
        { tier: 'sd', seconds: 1800, minutes: 30, cost: 0.36 },
        { tier: 'hd', seconds: 1800, minutes: 30, cost: 0.75 },
      ],
      currency: 'CNY',
      totalCost: 1.11,
    });
    // A 24/7 channel stopped after a week: one bill, every minute of it.
    expect(computeBilling([{ fromMs: T0, outputs: [HD] }], T0 + 7 * 86_400_000, P)).toMatchObject({
      billableMinutes: 10_080,
      totalCost: 252,
    });
    // A stop whose callback came late, from before the stale deadline, lowers the bill.
    expect(computeBilling(segments, T0 + 600_500, P).lines).toEqual([
      { tier: 'hd', seconds: 601, minutes: 11, cost: 0.275 },
    ]);
  });

  it('a segment without outputs bills nothing; no segments bill nothing', () => {
    expect(computeBilling([{ fromMs: T0, outputs: [] }], T0 + 60_000, P).lines).toEqual([]);
    expect(computeBilling([], T0, P).totalCost).toBe(0);
  });

  it('does not mutate its input', () => {
    const segments = [
      { fromMs: T0 + 10, outputs: [HD] },
      { fromMs: T0, outputs: [SD] },
    ];
    computeBilling(segments, T0 + 100, P);
    expect(segments[0].fromMs).toBe(T0 + 10);
  });

  it('throws a clear error on a broken price table', () => {
    expect(() => computeBilling([{ fromMs: T0, outputs: [HD] }], T0 + 1000, { ...P, hd: NaN })).toThrow(
      'price for tier hd must be a non-negative number, got NaN',
    );
  });
});

describe('parsePriceTable', () => {
  it('overrides part of the list prices', () => {
    expect(parsePriceTable('{"hd":20}')).toEqual({ ...P, hd: 20 });
    expect(parsePriceTable('{}')).toEqual(P);
    expect(parsePriceTable('{"uhd": 150.5, "audio": 0}')).toEqual({ ...P, uhd: 150.5, audio: 0 });
  });

  it('does not modify the list prices', () => {
    parsePriceTable('{"sd":1}');
    expect(ZEGO_LIST_PRICES.sd).toBe(12);
  });

  it.each([
    ['{"hd":', /^price table is not valid JSON \(/],
    ['[1]', /^price table must be a JSON object/],
    ['null', /^price table must be a JSON object/],
    ['{"4k":1}', /^price table has unknown tier "4k" \(expected one of audio, sd, hd, fhd, uhd\)$/],
    ['{"__proto__":1}', /^price table has unknown tier "__proto__"/],
    ['{"hd":"20"}', /^price for tier hd must be a number \(CNY per 1000 minutes\), got "20"$/],
    ['{"hd":null}', /^price for tier hd must be a number/],
    ['{"hd":-1}', /^price for tier hd must not be negative, got -1$/],
  ])('%s → one-line error', (json, message) => {
    let error: Error | undefined;
    try {
      parsePriceTable(json);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('\n');
  });
});
