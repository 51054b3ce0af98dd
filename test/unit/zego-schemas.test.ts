import { decodeCallbackBody, type DecodedObject } from '../../src/zego/decode';
import { parseTranscodeCallback, zegoFieldPath } from '../../src/zego/schemas';
import type { TranscodeEventName } from '../../src/zego/types';

function decoded(obj: unknown): DecodedObject {
  const result = decodeCallbackBody(Buffer.from(JSON.stringify(obj)), 'application/json');
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

function parse(event: TranscodeEventName, obj: unknown) {
  return parseTranscodeCallback(event, decoded(obj));
}

const signed = { Appid: '111111', Timestamp: '1700000000', Nonce: '123456', Signature: 'f'.repeat(40) };

describe('transcode_start schema', () => {
  it("parses the doc's start example into a TranscodeCallback with ZEGO's casing in Details", () => {
    const result = parse('transcode_start', {
      Event: 'transcode_start',
      ...signed,
      TaskId: '2222',
      UserId: '2222',
      Sequence: 0,
      Status: 'TranscodeStarted',
      Details: {
        Input: { StreamId: '2222' },
        Outputs: [
          {
            StreamId: '2222',
            VideoEncId: 0,
            Fps: 0,
            ShortEdgeAdaption: 0,
            Width: 1280,
            Height: 720,
            VideoBitrate: 0,
            GOP: 2,
          },
        ],
      },
    });
    expect(result).toEqual({
      ok: true,
      callback: {
        event: 'transcode_start',
        appId: '111111',
        taskId: '2222',
        userId: '2222',
        sequence: 0,
        status: 'TranscodeStarted',
        timestamp: '1700000000',
        nonce: '123456',
        input: { StreamId: '2222' },
        outputs: [
          {
            StreamId: '2222',
            VideoEncId: 0,
            Fps: 0,
            ShortEdgeAdaption: 0,
            Width: 1280,
            Height: 720,
            VideoBitrate: 0,
            GOP: 2,
          },
        ],
      },
    });
  });

  it('accepts numbers as strings and strings as numbers, in any casing', () => {
    const result = parse('transcode_start', {
      event: 'transcode_start',
      appid: 111111,
      timestamp: 1700000000,
      nonce: 123456,
      signature: 'F'.repeat(40),
      taskid: 2222,
      USERID: 7,
      sequence: '12',
      status: 'TranscodeUpdated',
      details: {
        input: { streamurl: 'rtmp://x/y' },
        outputs: [{ width: '1920', HEIGHT: '1080', gop: '2', fps: '' }],
      },
    });
    expect(result).toEqual({
      ok: true,
      callback: expect.objectContaining({
        appId: '111111',
        timestamp: '1700000000',
        nonce: '123456',
        taskId: '2222',
        userId: '7',
        sequence: 12,
        input: { StreamUrl: 'rtmp://x/y' },
        outputs: [{ Width: 1920, Height: 1080, GOP: 2 }],
      }),
    });
  });

  it('defaults: Sequence 0, UserId and Status empty, no Details', () => {
    const result = parse('transcode_start', { Event: 'transcode_start', ...signed, TaskId: 't' });
    expect(result).toEqual({
      ok: true,
      callback: {
        event: 'transcode_start',
        appId: '111111',
        taskId: 't',
        userId: '',
        sequence: 0,
        status: '',
        timestamp: '1700000000',
        nonce: '123456',
      },
    });
  });

  it('accepts unknown Status values and ignores unknown keys', () => {
    const result = parse('transcode_start', {
      Event: 'transcode_start',
      ...signed,
      TaskId: 't',
      Status: 'SomethingNew',
      Extra: { deep: [1, 2] },
      Details: { Input: {}, Outputs: [{ TemplateId: 3, Unknown: 'x' }], Other: 1 },
    });
    expect(result).toMatchObject({
      ok: true,
      callback: { status: 'SomethingNew', input: {}, outputs: [{}] },
    });
  });

  it("gives Input and Outputs ZEGO's casing in the documented field order, whatever order was sent", () => {
    const result = parse('transcode_start', {
      Event: 'transcode_start',
      ...signed,
      TaskId: 't',
      Details: {
        Input: { streamurl: 'rtmp://in', STREAMID: 'in' },
        Outputs: [
          {
            gop: 2,
            Height: 720,
            width: 1280,
            FPS: 15,
            ShortEdgeAdaption: 0,
            VideoBitrate: 1,
            videoencid: 1,
            StreamUrl: 'u',
            streamid: 's',
            extra: 1,
          },
          { Width: 640, StreamUrl: '', StreamId: 'o2' },
        ],
      },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(Object.keys(result.callback.input ?? {})).toEqual(['StreamId', 'StreamUrl']);
    expect(Object.keys(result.callback.outputs?.[0] ?? {})).toEqual([
      'StreamId',
      'StreamUrl',
      'VideoEncId',
      'VideoBitrate',
      'ShortEdgeAdaption',
      'Fps',
      'Width',
      'Height',
      'GOP',
    ]);
    // Fields not sent (or sent empty) are left out rather than set to undefined.
    expect(result.callback.outputs?.[1]).toStrictEqual({ StreamId: 'o2', Width: 640 });
  });

  it('accepts Details (or Outputs) given as a JSON string, and a lone output object', () => {
    const result = parse('transcode_start', {
      Event: 'transcode_start',
      ...signed,
      TaskId: 't',
      Details: JSON.stringify({ Outputs: { Width: 640, Height: 360 } }),
    });
    expect(result).toMatchObject({ ok: true, callback: { outputs: [{ Width: 640, Height: 360 }] } });
  });

  it('accepts integral numbers in other spellings (5.0, 1e3) and big sequences', () => {
    const result = parse('transcode_start', {
      Event: 'transcode_start',
      ...signed,
      TaskId: 't',
      Sequence: 9007199254740991,
      Details: { Outputs: [{ Width: 1e3, Height: '720.0' }] },
    });
    expect(result).toMatchObject({
      ok: true,
      callback: { sequence: 9007199254740991, outputs: [{ Width: 1000, Height: 720 }] },
    });
  });

  it('names every broken field, in ZEGO spelling', () => {
    const result = parse('transcode_start', {
      Event: 'transcode_start',
      Appid: '',
      Timestamp: null,
      Nonce: { a: 1 },
      Signature: true,
      Sequence: -1,
      UserId: [],
      Details: {
        Input: 'not an object',
        Outputs: [{ Width: 'wide', Height: 1.5, Fps: -30, StreamId: {} }, 3, { GOP: 2 }],
      },
    });
    expect(result).toEqual({
      ok: false,
      errors: [
        { field: 'Appid', message: 'is required' },
        { field: 'Timestamp', message: 'is required' },
        { field: 'Nonce', message: 'must be a string, got an object' },
        { field: 'Signature', message: 'must be a string, got true' },
        { field: 'TaskId', message: 'is required' },
        { field: 'UserId', message: 'must be a string, got an array' },
        { field: 'Sequence', message: 'must be a non-negative integer, got -1' },
        { field: 'Details.Input', message: 'must be an object' },
        { field: 'Details.Outputs[0].StreamId', message: 'must be a string, got an object' },
        { field: 'Details.Outputs[0].Fps', message: 'must be a non-negative integer, got -30' },
        { field: 'Details.Outputs[0].Width', message: 'must be a non-negative integer, got "wide"' },
        { field: 'Details.Outputs[0].Height', message: 'must be a non-negative integer, got 1.5' },
        { field: 'Details.Outputs[1]', message: 'must be an object' },
      ],
    });
  });

  it('rejects a Sequence that is not a safe integer', () => {
    expect(
      parse('transcode_start', {
        Event: 'transcode_start',
        ...signed,
        TaskId: 't',
        Sequence: '99999999999999999999',
      }),
    ).toEqual({
      ok: false,
      errors: [{ field: 'Sequence', message: 'must be a non-negative integer, got "99999999999999999999"' }],
    });
  });

  it('reports a wrong Event for the schema', () => {
    expect(parse('transcode_start', { Event: 'transcode_stop', ...signed, TaskId: 't' })).toEqual({
      ok: false,
      errors: [{ field: 'Event', message: 'must be "transcode_start", got "transcode_stop"' }],
    });
  });
});

describe('transcode_stop schema', () => {
  it("parses the doc's stop example (Status TranscodeStarted) as a stop", () => {
    const result = parse('transcode_stop', {
      Event: 'transcode_stop',
      Appid: '111111',
      Timestamp: '1700000000',
      Nonce: '123456',
      Signature: 'a'.repeat(40),
      TaskId: '2222',
      UserId: '2222',
      Sequence: 0,
      Status: 'TranscodeStarted',
      StopReason: 0,
    });
    expect(result).toEqual({
      ok: true,
      callback: {
        event: 'transcode_stop',
        appId: '111111',
        taskId: '2222',
        userId: '2222',
        sequence: 0,
        status: 'TranscodeStarted',
        stopReason: 0,
        timestamp: '1700000000',
        nonce: '123456',
      },
    });
  });

  it('StopReason defaults to 0, accepts strings, rejects non-integers', () => {
    const base = { Event: 'transcode_stop', ...signed, TaskId: 't' };
    expect(parse('transcode_stop', base)).toMatchObject({ ok: true, callback: { stopReason: 0 } });
    expect(parse('transcode_stop', { ...base, StopReason: '1' })).toMatchObject({
      ok: true,
      callback: { stopReason: 1 },
    });
    expect(parse('transcode_stop', { ...base, StopReason: 'x' })).toEqual({
      ok: false,
      errors: [{ field: 'StopReason', message: 'must be an integer, got "x"' }],
    });
  });

  it('ignores Details on a stop (none are documented)', () => {
    const result = parse('transcode_stop', {
      Event: 'transcode_stop',
      ...signed,
      TaskId: 't',
      Details: { Outputs: [{ Width: 'bad' }] },
    });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.callback.outputs).toBeUndefined();
      expect(result.callback.input).toBeUndefined();
    }
  });
});

describe('zegoFieldPath', () => {
  it('maps lowercased paths back to ZEGO names', () => {
    expect(zegoFieldPath(['details', 'outputs', 0, 'videoencid'])).toBe('Details.Outputs[0].VideoEncId');
    expect(zegoFieldPath(['stopreason'])).toBe('StopReason');
    expect(zegoFieldPath(['unknownkey'])).toBe('unknownkey');
  });
});
