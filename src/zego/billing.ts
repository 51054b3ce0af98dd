/**
 * ZEGO's published billing rule for single-stream transcoding (shared doc §10): billed as server-side
 * stream mixing, per output, by output resolution tier; per-second precision, the seconds of a cycle
 * summed and rounded UP to whole minutes; prices in CNY per 1000 minutes.
 *
 * Pure and deterministic (no Node built-ins), so workflows and activities may both use it.
 */
import { TIERS, type BillingLine, type BillingResult, type PriceTable, type Tier } from './billing-types';
import type { TranscodeOutput } from './types';

/**
 * ZEGO's list prices, CNY per 1000 minutes. Above 1080p ZEGO says "contact sales": `uhd` defaults to the
 * 1080p price as a placeholder, to be overridden with the contract price.
 */
export const ZEGO_LIST_PRICES: PriceTable = Object.freeze({
  audio: 7,
  sd: 12,
  hd: 25,
  fhd: 98,
  uhd: 98,
});

/**
 * An output's tier by its short edge: ≤360 sd, ≤720 hd, ≤1080 fhd, above uhd. With ShortEdgeAdaption = 1
 * ZEGO treats Width as the short edge. Width/Height 0 or absent mean "same as input", which we cannot
 * see: those outputs get `unknownResolutionTier`.
 */
export function tierOf(output: TranscodeOutput, unknownResolutionTier: Tier = 'hd'): Tier {
  const width = positive(output.Width);
  const height = positive(output.Height);
  let shortEdge: number | undefined;
  if (output.ShortEdgeAdaption === 1 && width !== undefined) shortEdge = width;
  else if (width !== undefined && height !== undefined) shortEdge = Math.min(width, height);
  if (shortEdge === undefined) return unknownResolutionTier;
  if (shortEdge <= 360) return 'sd';
  if (shortEdge <= 720) return 'hd';
  if (shortEdge <= 1080) return 'fhd';
  return 'uhd';
}

/** The outputs a task had from `fromMs` (epoch ms) until the next segment starts or the task ends. */
export interface BillingSegment {
  fromMs: number;
  outputs: TranscodeOutput[];
}

/**
 * Bills a lifecycle. Segments are sorted by `fromMs`; each lasts until the next one's `fromMs` or `endMs`,
 * whichever is earlier, and never less than zero. Every output is billed on its own by tier; per tier the
 * output-milliseconds of the whole lifecycle are summed, then rounded up to whole seconds, then to minutes.
 */
export function computeBilling(
  segments: BillingSegment[],
  endMs: number,
  prices: PriceTable,
  opts: { unknownResolutionTier?: Tier } = {},
): BillingResult {
  const sorted = [...segments].sort((a, b) => a.fromMs - b.fromMs);
  const msByTier: Partial<Record<Tier, number>> = {};
  sorted.forEach((segment, i) => {
    const until = Math.min(i + 1 < sorted.length ? sorted[i + 1].fromMs : endMs, endMs);
    const durationMs = until - segment.fromMs;
    // NaN or negative (a segment after the end) bills nothing.
    if (!(durationMs > 0)) return;
    for (const output of segment.outputs ?? []) {
      const tier = tierOf(output, opts.unknownResolutionTier);
      msByTier[tier] = (msByTier[tier] ?? 0) + durationMs;
    }
  });
  const secondsByTier: Partial<Record<Tier, number>> = {};
  for (const tier of TIERS) {
    const ms = msByTier[tier];
    if (ms !== undefined) secondsByTier[tier] = Math.ceil(ms / 1000);
  }
  return priceTierSeconds(secondsByTier, prices);
}

/** Prices already-summed output-seconds per tier: seconds → minutes rounded up → cost. */
export function priceTierSeconds(
  secondsByTier: Partial<Record<Tier, number>>,
  prices: PriceTable,
): BillingResult {
  const lines: BillingLine[] = [];
  let totalMicros = 0n;
  for (const tier of TIERS) {
    const raw = secondsByTier[tier];
    if (raw === undefined || !(raw > 0)) continue;
    if (!Number.isFinite(raw)) throw new Error(`seconds for tier ${tier} must be finite, got ${raw}`);
    const seconds = Math.ceil(raw);
    const minutes = Math.ceil(seconds / 60);
    const micros = costMicros(minutes, prices[tier], tier);
    totalMicros += micros;
    lines.push({ tier, seconds, minutes, cost: fromMicros(micros) });
  }
  return {
    billableSeconds: lines.reduce((sum, line) => sum + line.seconds, 0),
    billableMinutes: lines.reduce((sum, line) => sum + line.minutes, 0),
    lines,
    currency: 'CNY',
    totalCost: fromMicros(totalMicros),
  };
}

const NANOS_PER_UNIT = 1_000_000_000;
/** price is per 1000 minutes, in nano-CNY; the cost is wanted in micro-CNY: divide by 1000 × 1000. */
const NANO_PRICE_PER_1000_MIN_TO_MICROS = 1_000_000n;

/**
 * minutes × price / 1000, rounded half-up to 6 decimals, in integers (BigInt), so 12.60 is exactly 12.6
 * and no float drift accumulates over many lines.
 */
function costMicros(minutes: number, price: number, tier: Tier): bigint {
  if (typeof price !== 'number' || !Number.isFinite(price * NANOS_PER_UNIT) || price < 0) {
    throw new Error(`price for tier ${tier} must be a non-negative number, got ${String(price)}`);
  }
  const priceNanos = BigInt(Math.round(price * NANOS_PER_UNIT));
  const product = BigInt(minutes) * priceNanos;
  return (product + NANO_PRICE_PER_1000_MIN_TO_MICROS / 2n) / NANO_PRICE_PER_1000_MIN_TO_MICROS;
}

/** n micro-units → the double closest to the 6-decimal value (integer / 1e6 is correctly rounded). */
function fromMicros(micros: bigint): number {
  return Number(micros) / 1_000_000;
}

/**
 * A partial JSON override of ZEGO_LIST_PRICES, e.g. `{"hd":20}` (contract prices). Throws an Error with a
 * one-line message on anything else.
 */
export function parsePriceTable(json: string): PriceTable {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : 'syntax error';
    throw new Error(`price table is not valid JSON (${reason})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`price table must be a JSON object like {"hd":20}, with tiers ${TIERS.join(', ')}`);
  }
  const table: PriceTable = { ...ZEGO_LIST_PRICES };
  for (const [key, value] of Object.entries(parsed)) {
    if (!(TIERS as readonly string[]).includes(key)) {
      throw new Error(
        `price table has unknown tier ${JSON.stringify(key)} (expected one of ${TIERS.join(', ')})`,
      );
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(
        `price for tier ${key} must be a number (CNY per 1000 minutes), got ${JSON.stringify(value)}`,
      );
    }
    if (value < 0) throw new Error(`price for tier ${key} must not be negative, got ${value}`);
    table[key as Tier] = value;
  }
  return table;
}

function positive(n: number | undefined): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}
