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
