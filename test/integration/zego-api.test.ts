/**
 * ZegoApiClient against the local fake of ZEGO's server API (test/helpers/fake-zego-api.ts): signing,
 * task lifecycle, error classification (retryable or not), timeouts and the client-side rate limit.
 */
import { computeApiSignature, newSignatureNonce } from '../../src/zego/api-signature';
import {
  baseUrlForRegion,
  isTaskNotFound,
  REGION_HOSTS,
  ZegoApiClient,
  ZegoApiError,
  type StartCloudTranscodeBody,
  type ZegoApiClientOptions,
} from '../../src/zego/api-client';
import { startFakeZegoApi, type FakeTranscodeTask, type FakeZegoApi } from '../helpers/fake-zego-api';

jest.setTimeout(30_000);

const APP_ID = '1234567890';
const SECRET = 'test-server-secret';

function startBody(
  taskId: string,
  overrides: Partial<StartCloudTranscodeBody> = {},
): StartCloudTranscodeBody {
  return {
    TaskId: taskId,
    UserId: `user-${taskId}`,
    TranscodeInput: { StreamId: 'stream1' },
    TranscodeOutput: [{ StreamId: 'stream3', TemplateId: 3 }],
    ...overrides,
  };
}

async function errorOf(promise: Promise<unknown>): Promise<ZegoApiError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ZegoApiError) return err;
    throw err;
  }
  throw new Error('expected a ZegoApiError, but the call succeeded');
}

/** A request signed by hand, to reach the fake with things the client never sends. */
async function rawCall(
  zego: FakeZegoApi,
  query: Record<string, string | undefined>,
  body: string,
): Promise<{ Code: number; Message: string; RequestId: string }> {
  const nonce = newSignatureNonce();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const params: Record<string, string | undefined> = {
    Action: 'StartCloudTranscode',
    AppId: APP_ID,
    SignatureNonce: nonce,
    Timestamp: timestamp,
    Signature: computeApiSignature(APP_ID, nonce, SECRET, timestamp),
    SignatureVersion: '2.0',
    ...query,
  };
  const search = new URLSearchParams(
    Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const res = await fetch(`${zego.url}/?${search}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { Code: number; Message: string; RequestId: string };
}

describe('ZegoApiClient against the fake ZEGO API', () => {
  let zego: FakeZegoApi;
  let stopped: FakeTranscodeTask[];
  const client = (opts: Partial<ZegoApiClientOptions> = {}) =>
    new ZegoApiClient({ appId: APP_ID, serverSecret: SECRET, baseUrl: zego.url, ...opts });

  beforeEach(async () => {
    stopped = [];
    zego = await startFakeZegoApi({
      appId: APP_ID,
      serverSecret: SECRET,
      onStop: (task) => stopped.push(task),
    });
  });
  afterEach(() => zego.close());

  describe('signing', () => {
    it('sends the common params in the query, the body as JSON, and the signature is accepted', async () => {
      const before = Math.floor(Date.now() / 1000);
      const result = await client().startCloudTranscode(startBody('task-1'));
      const after = Math.floor(Date.now() / 1000);

      expect(result).toEqual({ code: 0, message: 'success', requestId: expect.stringMatching(/^\d+$/) });
      expect(zego.requests).toHaveLength(1);
      const [req] = zego.requests;
      expect(req.method).toBe('POST');
      expect(Object.keys(req.query)).toEqual([
        'Action',
        'AppId',
        'SignatureNonce',
        'Timestamp',
        'Signature',
        'SignatureVersion',
      ]);
      const { Action, AppId, SignatureNonce, Timestamp, Signature, SignatureVersion } = req.query;
      expect(Action).toBe('StartCloudTranscode');
      expect(AppId).toBe(APP_ID);
      expect(SignatureNonce).toMatch(/^[0-9a-f]{16}$/);
      expect(Number(Timestamp)).toBeGreaterThanOrEqual(before);
      expect(Number(Timestamp)).toBeLessThanOrEqual(after);
      expect(Signature).toBe(computeApiSignature(APP_ID, SignatureNonce, SECRET, Timestamp));
      expect(SignatureVersion).toBe('2.0');
      expect(req.body).toEqual(startBody('task-1'));
      expect(req.response).toEqual({ httpStatus: 200, code: 0 });
    });

    it('signs with a fresh nonce (and so a fresh signature) on every request', async () => {
      const api = client({ maxRequestsPerSecond: 100 });
      for (let i = 0; i < 5; i++) await api.startCloudTranscode(startBody(`task-${i}`));
      expect(new Set(zego.requests.map((r) => r.query.SignatureNonce)).size).toBe(5);
      expect(new Set(zego.requests.map((r) => r.query.Signature)).size).toBe(5);
    });

    it('sends IsTest only when configured', async () => {
      await client({ isTest: true }).startCloudTranscode(startBody('task-1'));
      await client({ isTest: false }).stopCloudTranscode({ TaskId: 'task-1', UserId: 'user-task-1' });
      await client().startCloudTranscode(startBody('task-2'));
      expect(zego.requests.map((r) => r.query.IsTest)).toEqual(['true', 'false', undefined]);
      expect(zego.requests.map((r) => r.response?.code)).toEqual([0, 0, 0]);
    });

    it('a wrong ServerSecret → 100000005, not retryable, and the message has no secret', async () => {
      const err = await errorOf(
        client({ serverSecret: 'wrong-secret-value' }).startCloudTranscode(startBody('task-1')),
      );
      expect(err).toMatchObject({ kind: 'api', code: 100000005, httpStatus: 200, retryable: false });
      expect(err.requestId).toMatch(/^\d+$/);
      expect(err.message).toContain('StartCloudTranscode failed: ZEGO Code 100000005 (signature error');
      expect(err.message).not.toContain('wrong-secret-value');
      expect(err.message).not.toContain(SECRET);
      expect(zego.running.size).toBe(0);
    });

    it('an unknown AppId → 100000010, not retryable', async () => {
      const err = await errorOf(client({ appId: '42' }).startCloudTranscode(startBody('task-1')));
      expect(err).toMatchObject({ code: 100000010, retryable: false });
    });

    it.each([
      ['11 minutes slow', -11 * 60_000],
      ['11 minutes fast', 11 * 60_000],
    ])('a clock %s → 100000004 signature expired, retryable', async (_name, offsetMs) => {
      const err = await errorOf(
        client({ now: () => Date.now() + offsetMs }).startCloudTranscode(startBody('task-1')),
      );
      expect(err).toMatchObject({ kind: 'api', code: 100000004, retryable: true });
      expect(err.message).toContain('signature expired');
    });

    it('a clock 9 minutes off is still within the ±10 min window', async () => {
      await expect(
        client({ now: () => Date.now() - 9 * 60_000 }).startCloudTranscode(startBody('task-1')),
      ).resolves.toMatchObject({ code: 0 });
    });
  });

  describe('task lifecycle', () => {
    it('start, update (same TaskId), then stop', async () => {
      const api = client();
      await api.startCloudTranscode(startBody('task-1', { Sequence: 1 }));
      expect([...zego.running]).toEqual(['task-1']);

      const update = startBody('task-1', {
        Sequence: 2,
        TranscodeOutput: [
          { StreamId: 'stream3', TemplateId: 4, TemplateConfig: { Width: 640, Height: 360 } },
        ],
      });
      await api.startCloudTranscode(update);
      expect([...zego.running]).toEqual(['task-1']);
      expect(zego.tasks.get('task-1')?.start).toEqual(update);

      await expect(
        api.stopCloudTranscode({ TaskId: 'task-1', UserId: 'user-task-1', Sequence: 3 }),
      ).resolves.toMatchObject({ code: 0, message: 'success' });
      expect(zego.running.size).toBe(0);
      expect(zego.requests.map((r) => r.action)).toEqual([
        'StartCloudTranscode',
        'StartCloudTranscode',
        'StopCloudTranscode',
      ]);
      expect(stopped).toEqual([{ TaskId: 'task-1', UserId: 'user-task-1', Sequence: 3, start: update }]);
    });

    it('stopping an unknown task → 110209001, isTaskNotFound, not retryable', async () => {
      const err = await errorOf(client().stopCloudTranscode({ TaskId: 'nope', UserId: 'u' }));
      expect(err).toMatchObject({ kind: 'api', code: 110209001, retryable: false });
      expect(err.message).toContain('task does not exist');
      expect(isTaskNotFound(err)).toBe(true);
      expect(stopped).toEqual([]);
    });

    it('stopping a task twice: the second stop is "already stopped"', async () => {
      const api = client();
      await api.startCloudTranscode(startBody('task-1'));
      await api.stopCloudTranscode({ TaskId: 'task-1', UserId: 'user-task-1' });
      expect(
        isTaskNotFound(await errorOf(api.stopCloudTranscode({ TaskId: 'task-1', UserId: 'user-task-1' }))),
      ).toBe(true);
    });

    it('stops a task the fake was told is running (a stale task started elsewhere)', async () => {
      zego.running.add('stale-1');
      await client().stopCloudTranscode({ TaskId: 'stale-1', UserId: 'u' });
      expect(zego.running.size).toBe(0);
      expect(stopped).toEqual([{ TaskId: 'stale-1', UserId: 'u', Sequence: undefined }]);
    });

    it('only the starting UserId may stop a task → 110200160', async () => {
      const api = client();
      await api.startCloudTranscode(startBody('task-1'));
      const err = await errorOf(api.stopCloudTranscode({ TaskId: 'task-1', UserId: 'someone-else' }));
      expect(err).toMatchObject({ code: 110200160, retryable: false });
      expect(zego.running.has('task-1')).toBe(true);
    });

    it("a body the fake rejects (no UserId) → 110200002, not retryable, with ZEGO's message", async () => {
      const body = { ...startBody('task-1'), UserId: undefined } as unknown as StartCloudTranscodeBody;
      const err = await errorOf(client().startCloudTranscode(body));
      expect(err).toMatchObject({ kind: 'api', code: 110200002, retryable: false });
      expect(err.message).toContain('input parameter error');
      expect(err.message).toContain('UserId is required');
      expect(zego.running.size).toBe(0);
    });

    it('refuses, without sending, a TranscodeInput with both StreamId and StreamUrl (§9 #16)', async () => {
      const body = startBody('task-1', { TranscodeInput: { StreamId: 's', StreamUrl: 'rtmp://x/y' } });
      const err = await errorOf(client().startCloudTranscode(body));
      expect(err).toMatchObject({ kind: 'invalid_request', code: null, retryable: false });
      expect(err.message).toContain('exactly one of StreamId or StreamUrl; got both');
      const neither = await errorOf(
        client().startCloudTranscode(startBody('task-1', { TranscodeInput: {} })),
      );
      expect(neither.message).toContain('got neither');
      expect(zego.requests).toHaveLength(0);
    });
  });

  describe('error classification', () => {
    it('scripted 110200194 (overload) → retryable, with the RequestId', async () => {
      zego.failNext(1, { code: 110200194 });
      const err = await errorOf(client().startCloudTranscode(startBody('task-1')));
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe('ZegoApiError');
      expect(err).toMatchObject({ kind: 'api', code: 110200194, httpStatus: 200, retryable: true });
      expect(err.requestId).toMatch(/^\d+$/);
      expect(err.message).toContain('request overload');
      // The scripted failure is used up: the retry (re-signed) succeeds.
      await expect(client().startCloudTranscode(startBody('task-1'))).resolves.toMatchObject({ code: 0 });
      const [first, second] = zego.requests;
      expect(second.query.SignatureNonce).not.toBe(first.query.SignatureNonce);
    });

    it.each([
      100000004, 100000015, 110200001, 110200005, 110200006, 110200151, 110200190, 110200191, 110200194,
    ])('Code %i is retryable', async (code) => {
      zego.failNext(1, { code });
      expect(await errorOf(client().startCloudTranscode(startBody('t')))).toMatchObject({
        code,
        retryable: true,
      });
    });

    it.each([
      110200002, 100000005, 100000001, 100000002, 100000003, 100000006, 100000007, 100000008, 100000009,
      100000010, 100000011, 100000013, 100000014, 100000016, 100000017, 110200003, 110200150, 110200157,
      110200160, 110209001,
      // not documented: treated as not retryable
      123456789,
    ])('Code %i is not retryable', async (code) => {
      zego.failNext(1, { code });
      expect(await errorOf(client().stopCloudTranscode({ TaskId: 't', UserId: 'u' }))).toMatchObject({
        code,
        retryable: false,
      });
    });

    it('HTTP 503 (plain-text page) → retryable', async () => {
      zego.failNext(1, { httpStatus: 503 });
      const err = await errorOf(client().startCloudTranscode(startBody('task-1')));
      expect(err).toMatchObject({
        kind: 'http',
        httpStatus: 503,
        code: null,
        requestId: null,
        retryable: true,
      });
      expect(err.message).toBe('StartCloudTranscode failed with HTTP 503: HTTP 503 (scripted)');
    });

    it.each([
      [500, true],
      [502, true],
      [504, true],
      [429, true],
      [400, false],
      [403, false],
      [404, false],
    ])('HTTP %i → retryable %p', async (httpStatus, retryable) => {
      zego.failNext(1, { httpStatus });
      expect(await errorOf(client().startCloudTranscode(startBody('task-1')))).toMatchObject({
        httpStatus,
        retryable,
      });
    });

    it("an HTTP error carrying ZEGO's envelope keeps its Code; either one may make it retryable", async () => {
      zego.failNext(1, { httpStatus: 400, code: 110200194 });
      zego.failNext(1, { httpStatus: 503, code: 110200002 });
      zego.failNext(1, { httpStatus: 400, code: 110200002 });
      const api = client();
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await errorOf(api.startCloudTranscode(startBody('task-1'))));
      expect(
        results.map(({ kind, code, httpStatus, retryable }) => ({ kind, code, httpStatus, retryable })),
      ).toEqual([
        { kind: 'http', code: 110200194, httpStatus: 400, retryable: true },
        { kind: 'http', code: 110200002, httpStatus: 503, retryable: true },
        { kind: 'http', code: 110200002, httpStatus: 400, retryable: false },
      ]);
      expect(results[0].requestId).toMatch(/^\d+$/);
    });

    it('no answer within timeoutMs → timeout, retryable', async () => {
      zego.failNext(1, { delayMs: 2_000 });
      const startedAt = Date.now();
      const err = await errorOf(client({ timeoutMs: 200 }).startCloudTranscode(startBody('task-1')));
      expect(Date.now() - startedAt).toBeLessThan(1_500);
      expect(err).toMatchObject({ kind: 'timeout', code: null, httpStatus: null, retryable: true });
      expect(err.message).toBe(
        'StartCloudTranscode got no complete response from ' + new URL(zego.url).host + ' within 200 ms',
      );
    });

    it('a delay shorter than the timeout is only a delay', async () => {
      zego.failNext(1, { delayMs: 100 });
      await expect(
        client({ timeoutMs: 2_000 }).startCloudTranscode(startBody('task-1')),
      ).resolves.toMatchObject({
        code: 0,
      });
      expect(zego.running.has('task-1')).toBe(true);
    });

    it('connection refused → network error, retryable', async () => {
      const gone = await startFakeZegoApi({ appId: APP_ID, serverSecret: SECRET });
      await gone.close();
      const err = await errorOf(
        new ZegoApiClient({ appId: APP_ID, serverSecret: SECRET, baseUrl: gone.url }).stopCloudTranscode({
          TaskId: 't',
          UserId: 'u',
        }),
      );
      expect(err).toMatchObject({ kind: 'network', code: null, httpStatus: null, retryable: true });
      expect(err.message).toContain('ECONNREFUSED');
      expect(err.cause).toBeDefined();
    });

    it("a 2xx that is not ZEGO's envelope → invalid_response, not retryable", async () => {
      const fakeFetch = (async () => new Response('<html>login</html>', { status: 200 })) as typeof fetch;
      const err = await errorOf(client({ fetch: fakeFetch }).startCloudTranscode(startBody('task-1')));
      expect(err).toMatchObject({ kind: 'invalid_response', httpStatus: 200, code: null, retryable: false });
      expect(err.message).toContain('<html>login</html>');
    });

    it('ignores Data and accepts a numeric-string Code in the envelope (§9 #17)', async () => {
      const fakeFetch = (async () =>
        new Response(JSON.stringify({ Code: '0', Message: 'success', RequestId: '7', Data: { x: 1 } }), {
          status: 200,
        })) as typeof fetch;
      await expect(
        client({ fetch: fakeFetch }).stopCloudTranscode({ TaskId: 't', UserId: 'u' }),
      ).resolves.toEqual({
        code: 0,
        message: 'success',
        requestId: '7',
      });
    });
  });

  describe('client-side rate limit', () => {
    it('30 concurrent calls at maxRequestsPerSecond 10 never put more than 10 in a 1-second window', async () => {
      const api = client({ maxRequestsPerSecond: 10 });
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => api.startCloudTranscode(startBody(`task-${i}`))),
      );
      expect(results.every((r) => r.code === 0)).toBe(true);
      expect(zego.running.size).toBe(30);

      const times = zego.requests.map((r) => r.time).sort((a, b) => a - b);
      expect(times).toHaveLength(30);
      // 30 starts spaced 100 ms apart span 2.9 s.
      expect(times[29] - times[0]).toBeGreaterThanOrEqual(2_500);
      // The client spaces starts exactly; arrival at the server adds a little jitter, allowed for here.
      const JITTER_MS = 30;
      const maxInWindow = Math.max(
        ...times.map((t) => times.filter((u) => u >= t && u < t + 1_000 - JITTER_MS).length),
      );
      expect(maxInWindow).toBeLessThanOrEqual(10);
      // Fixed windows from the first request, the way a per-second counter at ZEGO might count.
      const perSecond = new Map<number, number>();
      for (const t of times) {
        const second = Math.floor((t - times[0] + JITTER_MS) / 1_000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(10);
    });
  });
});

describe('the fake ZEGO API itself', () => {
  let zego: FakeZegoApi;
  beforeEach(async () => {
    zego = await startFakeZegoApi({ appId: APP_ID, serverSecret: SECRET });
  });
  afterEach(() => zego.close());

  const validBody = JSON.stringify(startBody('task-1'));

  it('accepts a correctly signed raw request', async () => {
    expect(await rawCall(zego, {}, validBody)).toMatchObject({ Code: 0, Message: 'success' });
  });

  it.each<[string, Record<string, string | undefined>, number]>([
    ['SignatureVersion 1.0', { SignatureVersion: '1.0' }, 100000014],
    ['no SignatureVersion', { SignatureVersion: undefined }, 100000013],
    ['an unknown Action', { Action: 'StartMix' }, 100000007],
    ['no Action', { Action: undefined }, 100000006],
    ['a Timestamp other than the signed one (ms)', { Timestamp: String(Date.now()) }, 100000005],
    ['a non-numeric Timestamp', { Timestamp: 'now' }, 100000003],
    ['no SignatureNonce', { SignatureNonce: undefined }, 100000008],
    ['no Signature', { Signature: undefined }, 100000009],
    [
      'the base64-like Signature from the doc example (§9 #15)',
      { Signature: 'Pc5WB8gokVn0xfeu/ZV+iNM1dgI=' },
      100000005,
    ],
  ])('rejects %s', async (_name, query, code) => {
    expect((await rawCall(zego, query, validBody)).Code).toBe(code);
    expect(zego.running.size).toBe(0);
  });

  it('rejects a body that is not JSON (110200004) and required fields that are missing (110200002)', async () => {
    expect((await rawCall(zego, {}, '{not json')).Code).toBe(110200004);
    const cases: Array<[object, string]> = [
      [{ ...startBody('t'), TaskId: '' }, 'TaskId is required'],
      [{ ...startBody('t'), TranscodeInput: undefined }, 'TranscodeInput is required'],
      [{ ...startBody('t'), TranscodeInput: {} }, 'TranscodeInput needs StreamId or StreamUrl'],
      [{ ...startBody('t'), TranscodeInput: { StreamId: 'a b' } }, 'only digits, letters'],
      [{ ...startBody('t'), TranscodeOutput: [] }, 'TranscodeOutput must be a non-empty array'],
      [
        { ...startBody('t'), TranscodeOutput: [{ StreamId: 'o', TemplateId: 5 }] },
        'TemplateId must be one of',
      ],
      [{ ...startBody('t'), Sequence: 1.5 }, 'Sequence must be an integer'],
    ];
    for (const [body, message] of cases) {
      expect(await rawCall(zego, {}, JSON.stringify(body))).toMatchObject({
        Code: 110200002,
        Message: expect.stringContaining(message),
      });
    }
    expect(zego.running.size).toBe(0);
    expect(zego.requests).toHaveLength(cases.length + 1);
  });

  it('records every request, with what it answered', async () => {
    zego.failNext(2, { code: 110200001 });
    await rawCall(zego, {}, validBody);
    await rawCall(zego, {}, validBody);
    await rawCall(zego, { Action: 'StopCloudTranscode' }, JSON.stringify({ TaskId: 'x', UserId: 'u' }));
    expect(zego.requests.map((r) => [r.action, r.response?.code])).toEqual([
      ['StartCloudTranscode', 110200001],
      ['StartCloudTranscode', 110200001],
      ['StopCloudTranscode', 110209001],
    ]);
    expect(zego.requests[2].body).toEqual({ TaskId: 'x', UserId: 'u' });
    expect(zego.requests[2].rawBody).toBe('{"TaskId":"x","UserId":"u"}');
  });
});

describe('regions and configuration', () => {
  it('maps every documented region to its host', () => {
    expect(REGION_HOSTS).toEqual({
      unified: 'rtc-api.zego.im',
      sha: 'rtc-api-sha.zego.im',
      hkg: 'rtc-api-hkg.zego.im',
      fra: 'rtc-api-fra.zego.im',
      lax: 'rtc-api-lax.zego.im',
      bom: 'rtc-api-bom.zego.im',
      sgp: 'rtc-api-sgp.zego.im',
    });
    expect(baseUrlForRegion('fra')).toBe('https://rtc-api-fra.zego.im');
    expect(baseUrlForRegion(' SGP ')).toBe('https://rtc-api-sgp.zego.im');
    expect(() => baseUrlForRegion('mars')).toThrow(
      'Unknown ZEGO API region "mars"; expected one of unified, sha',
    );
    expect(() => baseUrlForRegion('toString')).toThrow('Unknown ZEGO API region');
  });

  it('defaults to https://rtc-api.zego.im/ and POSTs JSON', async () => {
    const seen: Array<{ url: string; init?: RequestInit }> = [];
    const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(url), init });
      return new Response(JSON.stringify({ Code: 0, Message: 'success', RequestId: '1' }));
    }) as typeof fetch;
    await new ZegoApiClient({ appId: APP_ID, serverSecret: SECRET, fetch: fakeFetch }).stopCloudTranscode({
      TaskId: 't',
      UserId: 'u',
    });
    const url = new URL(seen[0].url);
    expect(`${url.origin}${url.pathname}`).toBe('https://rtc-api.zego.im/');
    expect(url.searchParams.get('Action')).toBe('StopCloudTranscode');
    expect(seen[0].init?.method).toBe('POST');
    expect(seen[0].init?.body).toBe('{"TaskId":"t","UserId":"u"}');
    expect(new Headers(seen[0].init?.headers).get('content-type')).toBe('application/json');
  });

  it.each<[string, Partial<ZegoApiClientOptions>, string]>([
    ['a non-decimal appId', { appId: 'abc' }, 'appId must be'],
    ['an empty serverSecret', { serverSecret: '' }, 'serverSecret is empty'],
    ['more than ZEGO allows', { maxRequestsPerSecond: 101 }, 'maxRequestsPerSecond must be > 0 and <= 100'],
    ['a zero rate', { maxRequestsPerSecond: 0 }, 'maxRequestsPerSecond must be > 0'],
    ['a zero timeout', { timeoutMs: 0 }, 'timeoutMs must be > 0'],
  ])('rejects %s', (_name, opts, message) => {
    expect(() => new ZegoApiClient({ appId: APP_ID, serverSecret: SECRET, ...opts })).toThrow(message);
  });
});
