import fc from 'fast-check';
import { readCallback, type CallbackReadResult } from '../../src/zego/callback';
import {
  decodeCallbackBody,
  decodeJsonText,
  decodeJsonTextLossless,
  JsonNumber,
} from '../../src/zego/decode';
import {
  CallbackSignatureError,
  computeCallbackSignature,
  verifyCallbackSignature,
} from '../../src/zego/signature';
import {
  encodeCallback,
  transcodeStart,
  transcodeStop,
  type BodyForm,
} from '../../tools/callbacks/signed-callback';

// FC_NUM_RUNS=5000 npx jest … for a longer hunt than the default 100 runs per property.
if (process.env.FC_NUM_RUNS) fc.configureGlobal({ numRuns: Number(process.env.FC_NUM_RUNS) });

const SKEW_MS = 5 * 60_000;
const KINDS: CallbackReadResult['kind'][] = [
  'unreadable',
  'unsigned',
  'invalid',
  'unknown_event',
  'transcode',
];

/** Any text of whole code points (no lone surrogates, which UTF-8 cannot carry). */
const text = (minLength = 0) => fc.string({ unit: 'binary', minLength, maxLength: 40 });
// From 1e12 + skew on, a millisecond timestamp in the window is always >= 1e12 (read as ms, §4.5).
const nowMs = fc.integer({ min: 1_000_000_000_000 + SKEW_MS, max: 4_000_000_000_000 });
const offsetMs = fc.integer({ min: -(SKEW_MS - 1000), max: SKEW_MS - 1000 });

/** A timestamp within the window of `now`, written in seconds or in milliseconds. */
const signedMoment = fc
  .record({ now: nowMs, offset: offsetMs, inMs: fc.boolean() })
  .map(({ now, offset, inMs }) => ({
    now,
    timestamp: inMs ? String(now + offset) : String(Math.floor((now + offset) / 1000)),
  }));

/** Replaces the code point at `index` (mod length) with a different one. */
function mutate(s: string, index: number, replacement: string): string {
  const chars = Array.from(s);
  const i = index % chars.length;
  const next = replacement === chars[i] ? (chars[i] === 'a' ? 'b' : 'a') : replacement;
  chars[i] = next;
  return chars.join('');
}

function passes(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof CallbackSignatureError) return false;
    throw err;
  }
}

describe('signature properties', () => {
  it('sign → verify always passes', () => {
    fc.assert(
      fc.property(
        text(1),
        text(1),
        signedMoment,
        fc.boolean(),
        (secret, nonce, { now, timestamp }, upper) => {
          const signature = computeCallbackSignature(secret, timestamp, nonce);
          expect(signature).toMatch(/^[0-9a-f]{40}$/);
          const sent = upper ? signature.toUpperCase() : signature;
          verifyCallbackSignature({ timestamp, nonce, signature: sent }, ['other', secret], {
            maxSkewMs: SKEW_MS,
            now: () => now,
          });
        },
      ),
    );
  });

  it('changing any one character of timestamp, nonce, signature or secret makes it fail', () => {
    const hexChar = fc.constantFrom(...'0123456789abcdef');
    fc.assert(
      fc.property(
        text(1),
        text(1),
        signedMoment,
        fc.constantFrom('timestamp', 'nonce', 'signature', 'secret'),
        fc.nat(),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
        hexChar,
        (secret, nonce, { now, timestamp }, target, index, replacement, hex) => {
          const input = { timestamp, nonce, signature: computeCallbackSignature(secret, timestamp, nonce) };
          let usedSecret = secret;
          if (target === 'secret') usedSecret = mutate(secret, index, replacement);
          else if (target === 'signature') {
            // A different hex digit (a case change alone is not a change: hex is case-insensitive).
            const i = index % 40;
            const digit = hex === input.signature[i] ? (hex === '0' ? '1' : '0') : hex;
            input.signature = input.signature.slice(0, i) + digit + input.signature.slice(i + 1);
          } else input[target] = mutate(input[target], index, replacement);
          const ok = passes(() =>
            verifyCallbackSignature(input, [usedSecret], { maxSkewMs: SKEW_MS, now: () => now }),
          );
          expect(ok).toBe(false);
        },
      ),
    );
  });
});

describe('readCallback never throws', () => {
  const contentType = fc.option(
    fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded; charset=utf-8',
        'text/plain',
        '',
      ),
      fc.string(),
    ),
    { nil: undefined },
  );
  const opts = { secrets: ['test-callback-secret'], maxSkewMs: SKEW_MS, now: () => 1_700_000_000_000 };

  function safe(body: Buffer, ct: string | undefined): void {
    const result = readCallback(body, ct, opts);
    expect(KINDS).toContain(result.kind);
    // The last-resort catch blocks are never what answered: every failure is an anticipated one.
    if (result.kind === 'unreadable') {
      expect(result.error).not.toBe('Callback could not be read');
      expect(result.error).not.toBe('Callback body could not be decoded');
    }
  }

  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), contentType, (bytes, ct) =>
        safe(Buffer.from(bytes), ct),
      ),
    );
  });

  it('on arbitrary strings, raw and percent-encoded', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), contentType, (s, ct) => {
        safe(Buffer.from(s), ct);
        safe(Buffer.from(encodeURIComponent(s)), ct);
      }),
    );
  });

  it('on arbitrary form-ish strings', () => {
    const piece = fc.stringMatching(/^[A-Za-z_%0-9{}[\]":,]{0,12}=[A-Za-z_%0-9{}[\]":,+]{0,20}$/);
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), contentType, (pieces, ct) =>
        safe(Buffer.from(pieces.join('&')), ct),
      ),
    );
  });

  it('on arbitrary JSON values, also mixed into real callbacks, in every body form', () => {
    const forms: BodyForm[] = ['json', 'urlencoded-json', 'form', 'form-lowercase'];
    const key = fc.oneof(
      fc.constantFrom(
        'Event',
        'Appid',
        'TaskId',
        'Sequence',
        'StopReason',
        'Details',
        'Timestamp',
        'Nonce',
        'Signature',
        '__proto__',
      ),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }),
        fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
        fc.boolean(),
        fc.constantFrom(...forms),
        contentType,
        (value, extra, stop, form, ct) => {
          safe(Buffer.from(JSON.stringify(value) ?? ''), ct);
          const base = stop
            ? transcodeStop({}, { timestamp: '1700000000' })
            : transcodeStart({}, { timestamp: '1700000000' });
          const body = { ...base, ...extra };
          const encoded = encodeCallback(body, form);
          safe(Buffer.from(encoded.body), ct ?? encoded.contentType);
        },
      ),
    );
  });

  it('decodes arbitrary JSON objects into lowercase keys at every level', () => {
    const allKeysLower = (v: unknown): boolean =>
      typeof v !== 'object' || v === null
        ? true
        : Array.isArray(v)
          ? v.every(allKeysLower)
          : Object.keys(v).every(
              (k) => k === k.toLowerCase() && allKeysLower((v as Record<string, unknown>)[k]),
            );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), (obj) => {
        const result = decodeCallbackBody(Buffer.from(JSON.stringify(obj)), 'application/json');
        if (result.ok) expect(allKeysLower(result.value)).toBe(true);
        else expect(result.error).toMatch(/conflicting values/);
      }),
    );
  });
});

describe('JSON fast path (native JSON.parse) agrees with the lossless parser', () => {
  /** Everything a decoded value is: key order, null prototypes, numbers as their exact text. */
  const dump = (v: unknown): string => {
    if (v instanceof JsonNumber) return `N(${v.text})`;
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? String(v);
    if (Array.isArray(v)) return `[${v.map(dump).join(',')}]`;
    const proto = Object.getPrototypeOf(v) === null ? 'null-proto' : 'PROTO';
    const members = Object.keys(v).map(
      (k) => `${JSON.stringify(k)}:${dump((v as Record<string, unknown>)[k])}`,
    );
    return `${proto}{${members.join(',')}}`;
  };
  const agree = (text: string) => {
    const fast = decodeJsonText(text);
    const lossless = decodeJsonTextLossless(text);
    expect(dump(fast.ok ? fast.value : fast.error)).toBe(dump(lossless.ok ? lossless.value : lossless.error));
    expect(fast.ok).toBe(lossless.ok);
  };

  const numberText = fc.oneof(
    fc.constantFrom(
      '0',
      '-0',
      '0.0',
      '-0.0',
      '1e3',
      '1E3',
      '1e-3',
      '-0e0',
      '1.50',
      '123456789012345',
      '-123456789012345',
      '1234567890123456',
      '9007199254740993',
      '7257784982359218206',
      '1e400',
      '5e-324',
    ),
    fc.integer().map(String),
    fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  );
  const key = fc.oneof(
    fc.constantFrom(
      'a',
      'A',
      'Appid',
      'appid',
      'APPID',
      'Nonce',
      '__proto__',
      'constructor',
      '0',
      '1',
      'é',
      'É',
    ),
    fc.string({ maxLength: 4 }),
  );
  const blank = fc.constantFrom('', ' ', '\n', '\t', '\r\n ');
  const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      numberText,
      fc.string({ unit: 'binary', maxLength: 6 }).map((s) => JSON.stringify(s)),
      fc.constantFrom('true', 'false', 'null', '"\\ud800"', '"\\u00e9"', '"\\/"', '"a\\"b"'),
      fc
        .array(fc.tuple(key, tie('value'), blank), { maxLength: 5 })
        .map(
          (members) => `{${members.map(([k, v, w]) => `${w}${JSON.stringify(k)}${w}:${w}${v}`).join(',')}}`,
        ),
      fc
        .array(fc.tuple(tie('value'), blank), { maxLength: 4 })
        .map((items) => `[${items.map(([v, w]) => w + v + w).join(',')}]`),
    ),
  })).value;
  /** One character replaced: mostly invalid JSON, whose error message must not change either. */
  const broken = fc
    .tuple(
      jsonText,
      fc.nat(),
      fc.constantFrom('', ',', '}', ']', '"', ':', '{', '[', '\\', 'x', '1', '-', '.', 'e', ' '),
    )
    .map(([t, i, c]) => (t.length ? t.slice(0, i % t.length) + c + t.slice((i % t.length) + 1) : c));

  it('on generated JSON texts: big integers, decimals, exponents, -0, nesting, mixed-case and repeated keys', () => {
    fc.assert(
      fc.property(jsonText, blank, (t, w) => agree(w + t + w)),
      { numRuns: 1000 },
    );
  });

  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => agree(JSON.stringify(v) ?? 'null')),
      { numRuns: 500 },
    );
  });

  it('on broken JSON (same error messages)', () => {
    fc.assert(fc.property(broken, agree), { numRuns: 1000 });
  });

  it('on the cases that must leave the fast path', () => {
    for (const text of [
      '{"Nonce":7257784982359218206}',
      '{"a":1,"a":2}',
      '{"a":1,"a":1}',
      '{"a":{"b":1},"a":{"b":1.0}}',
      '{"a":1,"a":2,"A":3}',
      '{"a":-0}',
      '{"a":1.0}',
      '{"a":1e2}',
      '{"__proto__":1,"__proto__":2}',
      '{"a":01}',
      '{"a":1,}',
      '["\\ud800"]',
      '{"k":"\\\\"}',
      '{"k":"\\"","a":1}',
      '{"a":1}x',
      '',
    ]) {
      agree(text);
    }
  });
});

describe('form fields are read exactly as URLSearchParams reads them', () => {
  const piece = fc.constantFrom(
    'a',
    'Z',
    '4',
    ' ',
    '+',
    '%',
    '%4',
    '%41',
    '%2B',
    '%20',
    '%E2%82%AC',
    '%E2%82',
    '%ED%A0%80',
    '%FF',
    '%EF%BB%BF',
    '?',
    '=',
    'é',
    '\ud83d\ude00',
    '\ud800',
    '\udc00',
  );
  const value = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));

  it('on values with +, valid and broken percent-encoding, non-ASCII and lone surrogates', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 2, maxLength: 5 }), fc.boolean(), (values, question) => {
        const body = (question ? '?' : '') + values.map((v, i) => `k${i}=${v}`).join('&');
        const result = decodeCallbackBody(body, 'application/x-www-form-urlencoded');
        const expected = Object.fromEntries(new URLSearchParams(body.trim())); // the body is trimmed first
        expect(result).toMatchObject({ ok: true, format: 'form' });
        if (result.ok) expect({ ...result.value }).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });
});
