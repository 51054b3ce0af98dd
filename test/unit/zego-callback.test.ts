import { readCallback, type CallbackReadResult } from '../../src/zego/callback';
import { callbackFingerprint } from '../../src/zego/fingerprint';
import { computeCallbackSignature } from '../../src/zego/signature';
import {
  encodeCallback,
  signCallback,
  TEST_CALLBACK_SECRET,
  transcodeStart,
  transcodeStop,
  type BodyForm,
  type ZegoCallbackBody,
} from '../../tools/callbacks/signed-callback';

const NOW_MS = 1_700_000_000_000;
const SIGN = { timestamp: '1700000000', nonce: '7257784982359218206' };
const OPTS = { secrets: [TEST_CALLBACK_SECRET], maxSkewMs: 5 * 60_000, now: () => NOW_MS };
const FORMS: BodyForm[] = ['json', 'urlencoded-json', 'form', 'form-lowercase'];

function read(obj: ZegoCallbackBody, form: BodyForm = 'json', opts = OPTS): CallbackReadResult {
  const { body, contentType } = encodeCallback(obj, form);
  return readCallback(Buffer.from(body), contentType, opts);
}

function readRaw(body: string, contentType?: string, opts = OPTS): CallbackReadResult {
  return readCallback(Buffer.from(body), contentType, opts);
}

describe('readCallback', () => {
  describe.each(FORMS)('body form %s', (form) => {
    it('reads a signed transcode_start', () => {
      const result = read(transcodeStart({ TaskId: 'task-1', UserId: 'a+b c' }, SIGN), form);
      expect(result).toMatchObject({
        kind: 'transcode',
        timestampMs: NOW_MS,
        callback: {
          event: 'transcode_start',
          appId: '111111',
          taskId: 'task-1',
          sequence: 0,
          status: 'TranscodeStarted',
          timestamp: '1700000000',
          nonce: '7257784982359218206',
          input: { StreamId: 'input-stream' },
          outputs: [{ StreamId: 'output-stream', Width: 1280, Height: 720, GOP: 2 }],
        },
      });
    });

    it('reads a signed transcode_stop with StopReason 1', () => {
      const result = read(transcodeStop({ TaskId: 'task-1', StopReason: 1, Sequence: 3 }, SIGN), form);
      expect(result).toMatchObject({
        kind: 'transcode',
        callback: { event: 'transcode_stop', taskId: 'task-1', stopReason: 1, sequence: 3 },
      });
    });

    it('gives the same fingerprint whatever the encoding', () => {
      const cb = transcodeStart({ TaskId: 'task-fp' }, SIGN);
      const expected = read(cb, 'json');
      const result = read(cb, form);
      expect(result.kind).toBe('transcode');
      if (result.kind === 'transcode' && expected.kind === 'transcode') {
        expect(result.fingerprint).toBe(expected.fingerprint);
        expect(result.fingerprint).toBe(callbackFingerprint(result.callback));
      }
    });
  });

  it('verifies a 19-digit nonce sent as a JSON number with its exact digits', () => {
    const cb = transcodeStart({ TaskId: 't' }, { timestamp: 1700000000, nonce: 7257784982359218206n });
    const { body } = encodeCallback(cb, 'json');
    expect(body).toContain('"Nonce":7257784982359218206');
    expect(body).toContain('"Timestamp":1700000000');
    const result = readRaw(body, 'application/json');
    expect(result).toMatchObject({
      kind: 'transcode',
      callback: { nonce: '7257784982359218206', timestamp: '1700000000' },
    });
  });

  it('verifies a millisecond timestamp as sent (vector D)', () => {
    const body = JSON.stringify({
      Event: 'transcode_stop',
      Appid: '1',
      TaskId: 't',
      Timestamp: '1745502313000',
      Nonce: '7450395512627324902',
      Signature: '2226cc51301705ccdafde7212f6363c6ec2f91c8',
    });
    const result = readRaw(body, 'application/json', { ...OPTS, now: () => 1_745_502_313_000 });
    expect(result).toMatchObject({ kind: 'transcode', timestampMs: 1_745_502_313_000 });
  });

  it("the doc's stop example (Status TranscodeStarted) routes as a stop", () => {
    const cb = signCallback(
      {
        Event: 'transcode_stop',
        Appid: '111111',
        TaskId: '2222',
        UserId: '2222',
        Sequence: 0,
        Status: 'TranscodeStarted',
        StopReason: 0,
      },
      SIGN,
    );
    expect(read(cb)).toMatchObject({
      kind: 'transcode',
      callback: { event: 'transcode_stop', status: 'TranscodeStarted', stopReason: 0 },
    });
  });

  it('form with Details as a JSON string', () => {
    const cb = transcodeStart({ Details: { Outputs: [{ Width: 1920, Height: 1080 }] } }, SIGN);
    const { body, contentType } = encodeCallback(cb, 'form');
    expect(body).toContain('Details=%7B%22Outputs');
    expect(readCallback(Buffer.from(body), contentType, OPTS)).toMatchObject({
      kind: 'transcode',
      callback: { outputs: [{ Width: 1920, Height: 1080 }] },
    });
  });

  describe('unsigned (401), checked before the schema', () => {
    it('wrong secret', () => {
      expect(read(transcodeStart({}, { ...SIGN, secret: 'other' }))).toEqual({
        kind: 'unsigned',
        code: 'signature_mismatch',
        error: expect.stringContaining('Signature does not match'),
      });
    });

    it('accepts any of several secrets', () => {
      const result = read(transcodeStart({}, { ...SIGN, secret: 'new' }), 'json', {
        ...OPTS,
        secrets: ['old', 'new'],
      });
      expect(result.kind).toBe('transcode');
    });

    it('unsigned junk gets no field-level feedback', () => {
      const result = readRaw('{"Event":"transcode_start","Sequence":"x"}', 'application/json');
      expect(result).toEqual({
        kind: 'unsigned',
        code: 'missing_timestamp',
        error: 'The callback has no Timestamp',
      });
    });

    it.each([
      ['missing_nonce', { Nonce: undefined }],
      ['missing_signature', { Signature: undefined }],
      ['malformed_signature', { Signature: 'abc' }],
    ])('%s', (code, overrides) => {
      expect(read(transcodeStart(overrides, SIGN))).toMatchObject({ kind: 'unsigned', code });
    });

    it('a signature field of the wrong type', () => {
      expect(read({ ...transcodeStart({}, SIGN), Timestamp: { x: 1 } })).toMatchObject({
        kind: 'unsigned',
        code: 'malformed_timestamp',
        error: 'Timestamp must be a string or a number, got an object',
      });
      expect(read({ ...transcodeStart({}, SIGN), Nonce: [1] })).toMatchObject({
        kind: 'unsigned',
        code: 'missing_nonce',
      });
      expect(read({ ...transcodeStart({}, SIGN), Signature: true })).toMatchObject({
        kind: 'unsigned',
        code: 'malformed_signature',
      });
    });

    it('stale and future timestamps', () => {
      expect(read(transcodeStart({}, { ...SIGN, timestamp: '1699999000' }))).toMatchObject({
        kind: 'unsigned',
        code: 'timestamp_too_old',
      });
      expect(read(transcodeStart({}, { ...SIGN, timestamp: '1700001000' }))).toMatchObject({
        kind: 'unsigned',
        code: 'timestamp_in_future',
      });
    });

    it('a body altered after signing still passes the signature (ZEGO signs no body), so fingerprints differ', () => {
      const original = transcodeStart({ TaskId: 't', Sequence: 1 }, SIGN);
      const a = read(original);
      const b = read({ ...original, Sequence: 2 });
      expect(a.kind).toBe('transcode');
      expect(b.kind).toBe('transcode');
      if (a.kind === 'transcode' && b.kind === 'transcode') expect(a.fingerprint).not.toBe(b.fingerprint);
    });
  });

  describe('invalid (400)', () => {
    it('names every broken field of a signed transcode event', () => {
      const result = read(
        transcodeStart({ TaskId: '', Sequence: 'x', Details: { Outputs: [{ Width: 'w' }] } }, SIGN),
      );
      expect(result).toEqual({
        kind: 'invalid',
        event: 'transcode_start',
        error: 'transcode_start callback has 3 invalid fields',
        details: [
          { field: 'TaskId', message: 'is required' },
          { field: 'Sequence', message: 'must be a non-negative integer, got "x"' },
          { field: 'Details.Outputs[0].Width', message: 'must be a non-negative integer, got "w"' },
        ],
      });
    });

    it('a signed body without Event', () => {
      expect(read(transcodeStart({ Event: undefined }, SIGN))).toEqual({
        kind: 'invalid',
        event: '',
        error: 'Callback has no usable Event',
        details: [{ field: 'Event', message: 'is required' }],
      });
      expect(read(transcodeStart({ Event: { a: 1 } }, SIGN))).toMatchObject({
        kind: 'invalid',
        details: [{ field: 'Event', message: 'must be a string' }],
      });
    });
  });

  describe('unknown events (200, ignored)', () => {
    it('a correctly signed mix_start', () => {
      const cb = signCallback({ event: 'mix_start', appid: 111111, task_id: '111111:1' }, SIGN);
      expect(read(cb)).toEqual({ kind: 'unknown_event', event: 'mix_start', appId: '111111' });
    });

    it('without an appid', () => {
      expect(read(signCallback({ Event: 'procedure' }, SIGN))).toEqual({
        kind: 'unknown_event',
        event: 'procedure',
        appId: null,
      });
    });

    it('an unsigned unknown event is still unsigned', () => {
      expect(readRaw('{"event":"mix_start"}').kind).toBe('unsigned');
    });
  });

  it('routes Event case-insensitively', () => {
    expect(read(transcodeStop({ Event: 'Transcode_Stop' }, SIGN))).toMatchObject({
      kind: 'transcode',
      callback: { event: 'transcode_stop' },
    });
  });

  describe('unreadable (400)', () => {
    it.each([
      ['', 'Callback body is empty'],
      ['not a callback', 'Callback body is not a JSON object, URL-encoded JSON or form fields'],
      ['[1]', 'Callback body is JSON but not an object (got an array)'],
    ])('%j', (body, error) => {
      expect(readRaw(body, 'text/plain')).toMatchObject({ kind: 'unreadable', error });
    });

    it('non-UTF-8 bytes', () => {
      expect(readCallback(Buffer.from([0xc3, 0x28]), undefined, OPTS)).toEqual({
        kind: 'unreadable',
        error: 'Callback body is not valid UTF-8',
        details: [],
      });
    });
  });

  it('timestampMs of a seconds timestamp', () => {
    const cb = transcodeStart({}, { timestamp: '1700000100', nonce: '1' });
    expect(read(cb)).toMatchObject({ kind: 'transcode', timestampMs: 1_700_000_100_000 });
  });

  it('helper defaults: a fresh timestamp from the clock and a 19-digit nonce', () => {
    const cb = transcodeStart({}, { now: () => NOW_MS });
    expect(cb.Timestamp).toBe('1700000000');
    expect(String(cb.Nonce)).toMatch(/^[1-9]\d{18}$/);
    expect(cb.Signature).toBe(computeCallbackSignature(TEST_CALLBACK_SECRET, '1700000000', String(cb.Nonce)));
    expect(read(cb).kind).toBe('transcode');
  });
});
