import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, callbackFingerprint } from '../../src/zego/fingerprint';
import type { TranscodeCallback } from '../../src/zego/types';

const start: TranscodeCallback = {
  event: 'transcode_start',
  appId: '111111',
  taskId: '2222',
  userId: 'u',
  sequence: 1,
  status: 'TranscodeStarted',
  timestamp: '1700000000',
  nonce: '123456',
  input: { StreamId: 'in' },
  outputs: [{ StreamId: 'out', Width: 1280, Height: 720 }],
};

describe('callbackFingerprint', () => {
  it('is a sha256 hex digest', () => {
    expect(callbackFingerprint(start)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ignores Timestamp and Nonce (the signature ingredients)', () => {
    expect(callbackFingerprint({ ...start, timestamp: '1700000099', nonce: '999' })).toBe(
      callbackFingerprint(start),
    );
  });

  it('does not depend on key order', () => {
    const reordered: TranscodeCallback = {
      outputs: [{ Height: 720, Width: 1280, StreamId: 'out' }],
      input: { StreamId: 'in' },
      nonce: '123456',
      timestamp: '1700000000',
      status: 'TranscodeStarted',
      sequence: 1,
      userId: 'u',
      taskId: '2222',
      appId: '111111',
      event: 'transcode_start',
    };
    expect(callbackFingerprint(reordered)).toBe(callbackFingerprint(start));
  });

  it('treats an undefined member like an absent one', () => {
    expect(callbackFingerprint({ ...start, stopReason: undefined })).toBe(callbackFingerprint(start));
  });

  it.each<[string, Partial<TranscodeCallback>]>([
    ['Event', { event: 'transcode_stop' }],
    ['Appid', { appId: '111112' }],
    ['TaskId', { taskId: '2223' }],
    ['UserId', { userId: 'v' }],
    ['Status', { status: 'TranscodeUpdated' }],
    ['Sequence', { sequence: 2 }],
    ['StopReason', { stopReason: 1 }],
    ['Details.Input', { input: { StreamId: 'other' } }],
    ['Details.Outputs', { outputs: [{ StreamId: 'out', Width: 1920, Height: 1080 }] }],
    ['no Outputs', { outputs: undefined }],
  ])('changes when %s changes', (_field, change) => {
    expect(callbackFingerprint({ ...start, ...change })).not.toBe(callbackFingerprint(start));
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe('canonicalJson and callbackFingerprint against their definition', () => {
  /** The definition: JSON.stringify for scalars, keys sorted by Array#sort, undefined members left out. */
  const reference = (value: unknown): string => {
    if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
    if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
    const record = value as Record<string, unknown>;
    const entries = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${reference(record[key])}`);
    return `{${entries.join(',')}}`;
  };

  it('canonicalJson gives the same text for any value', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBoxedValues: true,
          withSparseArray: true,
          withNullPrototype: true,
          withDate: true,
          withMap: true,
          maxKeys: 20,
        }),
        (value) => expect(canonicalJson(value)).toBe(reference(value)),
      ),
      { numRuns: 1000 },
    );
    const units = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
    fc.assert(
      fc.property(fc.dictionary(units, fc.oneof(units, fc.double())), (value) =>
        expect(canonicalJson(value)).toBe(reference(value)),
      ),
      { numRuns: 500 },
    );
  });

  it('callbackFingerprint is SHA-256 of the canonical JSON of everything but Timestamp and Nonce', () => {
    const text = fc.string({ maxLength: 8 });
    const output = fc.record(
      { StreamId: text, StreamUrl: text, Width: fc.nat(), Height: fc.nat(), GOP: fc.nat(), Fps: fc.nat() },
      { requiredKeys: [] },
    );
    const callback = fc.record(
      {
        event: fc.constantFrom('transcode_start' as const, 'transcode_stop' as const),
        appId: text,
        taskId: text,
        userId: text,
        sequence: fc.nat(),
        status: text,
        timestamp: text,
        nonce: text,
        stopReason: fc.integer(),
        input: fc.record({ StreamId: text, StreamUrl: text }, { requiredKeys: [] }),
        outputs: fc.array(output, { maxLength: 3 }),
      },
      { requiredKeys: ['event', 'appId', 'taskId', 'userId', 'sequence', 'status', 'timestamp', 'nonce'] },
    );
    fc.assert(
      fc.property(callback, (cb) => {
        const { timestamp: _timestamp, nonce: _nonce, ...meaning } = cb;
        const expected = createHash('sha256').update(reference(meaning)).digest('hex');
        expect(callbackFingerprint(cb)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
