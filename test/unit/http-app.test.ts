/**
 * The HTTP app against a real in-memory nonce store and a recording gateway stub. The stub stands in
 * for Temporal only where a request must never reach it, or to play Temporal being down; the real
 * hand-off is covered by the integration tests.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { createApp, type AppDeps } from '../../src/http/app';
import { createMetrics, type HttpMetrics } from '../../src/http/metrics';
import {
  TemporalUnavailableError,
  type HandoffOutcome,
  type LifecycleGateway,
  type TaskListItem,
} from '../../src/http/ports';
import { createLogger } from '../../src/logger';
import { DirectRecorder } from '../../src/inbox/recorders';
import { MemoryNonceStore } from '../../src/store/nonces';
import type { NonceStore } from '../../src/store/types';
import {
  lifecycleWorkflowId,
  type CallbackSignalPayload,
  type LifecycleStateDocument,
  type LifecycleStatus,
} from '../../workflows/definitions';
import {
  encodeCallback,
  signCallback,
  TEST_CALLBACK_SECRET,
  transcodeStart,
  transcodeStop,
  type BodyForm,
  type ZegoCallbackBody,
} from '../../tools/callbacks/signed-callback';

const MAX_SKEW_MS = 5 * 60_000;

/** Records every call; `deliverImpl` / `readyImpl` / ... decide the answers. */
class RecordingGateway implements LifecycleGateway {
  delivered: CallbackSignalPayload[] = [];
  calls: { method: string; args: unknown[] }[] = [];
  deliverImpl: (p: CallbackSignalPayload) => Promise<HandoffOutcome> = async (p) => ({
    kind: 'accepted',
    workflowId: lifecycleWorkflowId(p.appId, p.taskId),
    runId: 'run-1',
    newLifecycle: true,
  });
  tasks = new Map<string, LifecycleStateDocument>();
  appsImpl: (taskId: string) => Promise<string[]> = async (taskId) =>
    [...this.tasks.values()].filter((t) => t.taskId === taskId).map((t) => t.appId);
  listImpl: (filter: unknown) => Promise<TaskListItem[]> = async () => [];
  readyImpl: () => Promise<boolean> = async () => true;
  failQueries: Error | null = null;

  async deliver(payload: CallbackSignalPayload): Promise<HandoffOutcome> {
    this.calls.push({ method: 'deliver', args: [payload] });
    const outcome = await this.deliverImpl(payload);
    this.delivered.push(payload);
    return outcome;
  }
  async getTask(appId: string, taskId: string): Promise<LifecycleStateDocument | null> {
    this.calls.push({ method: 'getTask', args: [appId, taskId] });
    if (this.failQueries) throw this.failQueries;
    return this.tasks.get(`${appId}/${taskId}`) ?? null;
  }
  async appsForTask(taskId: string): Promise<string[]> {
    this.calls.push({ method: 'appsForTask', args: [taskId] });
    if (this.failQueries) throw this.failQueries;
    return this.appsImpl(taskId);
  }
  async list(filter: { status?: LifecycleStatus; appId?: string; limit?: number }): Promise<TaskListItem[]> {
    this.calls.push({ method: 'list', args: [filter] });
    if (this.failQueries) throw this.failQueries;
    return this.listImpl(filter);
  }
  async isReady(): Promise<boolean> {
    return this.readyImpl();
  }
  deliverCalls(): number {
    return this.calls.filter((c) => c.method === 'deliver').length;
  }
}

function stateDoc(
  appId: string,
  taskId: string,
  status: LifecycleStatus = 'running',
): LifecycleStateDocument {
  return {
    appId,
    taskId,
    userId: 'user-1',
    workflowId: lifecycleWorkflowId(appId, taskId),
    runId: 'run-1',
    lifecycleId: 'lc-1',
    status,
    startedAt: '2023-11-14T22:13:20.000Z',
    stoppedAt: null,
    durationSeconds: null,
    stopReason: null,
    input: { StreamId: 'in' },
    outputs: [{ StreamId: 'out', Width: 1280, Height: 720 }],
    events: [],
    billing: { status: 'pending' },
    alerts: [],
    cleanup: { status: 'pending' },
    followUps: [],
    eventsOmitted: 0,
    maxSequence: 0,
    closed: false,
  };
}

interface Harness {
  url: string;
  gateway: RecordingGateway;
  nonces: NonceStore;
  metrics: HttpMetrics;
  logs: string[];
  close(): Promise<void>;
}

/**
 * The app as a lone server without a database runs it (direct mode: the nonce binding in memory,
 * the hand-off to the gateway before the 200); the inbox mode is covered by the integration tests.
 */
async function startApp(overrides: Partial<AppDeps> & { nonces?: NonceStore } = {}): Promise<Harness> {
  const gateway = new RecordingGateway();
  const nonces = overrides.nonces ?? new MemoryNonceStore({ sweepIntervalMs: 0 });
  const metrics = createMetrics();
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const app = createApp({
    gateway,
    recorder: new DirectRecorder(nonces, gateway),
    readiness: async () => {
      const ready = await gateway.isReady();
      return {
        status: ready ? 'ready' : 'not_ready',
        mode: 'direct',
        dependencies: [{ dependency: 'temporal', ready }],
      };
    },
    logger: createLogger({ level: 'debug', destination }),
    metrics,
    secrets: [TEST_CALLBACK_SECRET],
    maxSkewMs: MAX_SKEW_MS,
    adminTokens: [ADMIN_TOKEN, OTHER_ADMIN_TOKEN],
    ...overrides,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    gateway,
    nonces,
    metrics,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await nonces.close();
    },
  };
}

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

const ADMIN_TOKEN = 'unit-admin-token-0123456789';
const OTHER_ADMIN_TOKEN = 'unit-admin-token-rotated-abcdef';

/** Sends the admin token unless the request gives its own Authorization (or `null`: none). */
async function request(
  url: string,
  init: Omit<RequestInit, 'headers'> & {
    headers?: Record<string, string>;
    authorization?: string | null;
  } = {},
): Promise<Reply> {
  const { authorization = `Bearer ${ADMIN_TOKEN}`, headers = {}, ...rest } = init;
  const res = await fetch(url, {
    ...rest,
    headers: { ...(authorization === null ? {} : { authorization }), ...headers },
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

function postRaw(
  h: Harness,
  body: string | Buffer,
  contentType?: string,
  headers: Record<string, string> = {},
) {
  return request(`${h.url}/zego/callback`, {
    method: 'POST',
    body,
    headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers },
  });
}

function postCallback(
  h: Harness,
  cb: ZegoCallbackBody,
  form: BodyForm = 'json',
  headers?: Record<string, string>,
) {
  const { body, contentType } = encodeCallback(cb, form);
  return postRaw(h, body, contentType, headers);
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
let h: Harness;

beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});
beforeEach(async () => {
  h = await startApp();
});
afterEach(async () => {
  await h.close();
});

describe('POST /zego/callback: accepted', () => {
  it.each<BodyForm>(['json', 'urlencoded-json', 'form', 'form-lowercase'])(
    'hands a signed %s callback to Temporal',
    async (form) => {
      const cb = transcodeStart({ TaskId: 'task-accepted', Appid: '111111' });
      const reply = await postCallback(h, cb, form);
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({
        ok: true,
        outcome: 'accepted',
        workflowId: lifecycleWorkflowId('111111', 'task-accepted'),
      });
      expect(h.gateway.delivered).toHaveLength(1);
      const payload = h.gateway.delivered[0];
      expect(payload).toMatchObject({
        event: 'transcode_start',
        appId: '111111',
        taskId: 'task-accepted',
        timestamp: String(cb.Timestamp),
        nonce: String(cb.Nonce),
      });
      expect(Date.parse(payload.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    },
  );

  it('accepts a stop, and answers duplicate_after_close as the gateway says', async () => {
    h.gateway.deliverImpl = async (p) => ({
      kind: 'duplicate_after_close',
      workflowId: lifecycleWorkflowId(p.appId, p.taskId),
    });
    const reply = await postCallback(h, transcodeStop({ TaskId: 'closed-task' }));
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ ok: true, outcome: 'duplicate_after_close' });
  });

  it('uses the injected clock for freshness and receivedAt', async () => {
    await h.close();
    const fixed = Date.parse('2023-11-14T22:13:20.000Z');
    h = await startApp({ now: () => fixed });
    const reply = await postCallback(h, transcodeStart({}, { timestamp: '1700000000' }));
    expect(reply.status).toBe(200);
    expect(h.gateway.delivered[0].receivedAt).toBe('2023-11-14T22:13:20.000Z');
  });
});

describe('POST /zego/callback: never reaches Temporal', () => {
  const forged: [string, () => ZegoCallbackBody][] = [
    ['signed with another secret', () => transcodeStart({}, { secret: 'not-the-secret' })],
    ['a tampered signature', () => transcodeStart({ Signature: 'a'.repeat(40) })],
    ['no signature', () => transcodeStart({ Signature: undefined })],
    ['no nonce', () => transcodeStart({ Nonce: undefined })],
    ['no timestamp', () => transcodeStart({ Timestamp: undefined })],
    ['a stale timestamp', () => transcodeStart({}, { now: () => Date.now() - 10 * 60_000 })],
    ['a timestamp from the future', () => transcodeStart({}, { now: () => Date.now() + 10 * 60_000 })],
    [
      'a signature of another timestamp',
      () => ({ ...transcodeStop(), Timestamp: String(Math.floor(Date.now() / 1000) - 1) }),
    ],
  ];

  it.each(forged)('401 for %s', async (_name, make) => {
    const reply = await postCallback(h, make());
    expect(reply.status).toBe(401);
    expect(reply.body).toMatchObject({ ok: false, error: expect.any(String), details: expect.any(Array) });
    expect(h.gateway.deliverCalls()).toBe(0);
  });

  it('401 for a signed event of a secret no longer configured; the rotated list accepts both', async () => {
    await h.close();
    h = await startApp({ secrets: ['new-secret', 'old-secret'] });
    expect((await postCallback(h, transcodeStart({}, { secret: 'old-secret' }))).status).toBe(200);
    expect((await postCallback(h, transcodeStart({}, { secret: 'new-secret' }))).status).toBe(200);
    expect((await postCallback(h, transcodeStart({}, { secret: TEST_CALLBACK_SECRET }))).status).toBe(401);
    expect(h.gateway.deliverCalls()).toBe(2);
  });

  it.each([
    ['not JSON', 'this is { not json', 'application/json'],
    ['an empty body', '', 'application/json'],
    ['a JSON array', '[1,2,3]', 'application/json'],
    ['binary junk', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), 'application/octet-stream'],
    ['deeply nested JSON', '['.repeat(5000) + ']'.repeat(5000), 'application/json'],
  ])('400 for %s', async (_name, body, contentType) => {
    const reply = await postRaw(h, body, contentType);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ ok: false, error: expect.any(String), details: expect.any(Array) });
    expect(h.gateway.deliverCalls()).toBe(0);
  });

  it('400 for a body without content type', async () => {
    const reply = await request(`${h.url}/zego/callback`, { method: 'POST' });
    expect(reply.status).toBe(400);
    expect(reply.body.ok).toBe(false);
  });

  it('400 (not 415) for a body in an unsupported content encoding', async () => {
    const reply = await postRaw(h, 'x', 'application/json', { 'content-encoding': 'bogus' });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ ok: false, details: [expect.stringContaining('bogus')] });
    expect(h.gateway.deliverCalls()).toBe(0);
  });

  it('400 naming each missing or mistyped field of a signed transcode event', async () => {
    const reply = await postCallback(h, transcodeStop({ TaskId: undefined, StopReason: 'soon' }));
    expect(reply.status).toBe(400);
    const fields = (reply.body.details as { field: string }[]).map((d) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['TaskId', 'StopReason']));
    expect(h.gateway.deliverCalls()).toBe(0);
  });

  it('413 for a body over 64 KiB', async () => {
    const cb = transcodeStart({ Padding: 'x'.repeat(65 * 1024) });
    const reply = await postCallback(h, cb);
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({ ok: false, error: expect.stringContaining('64 KiB') });
    expect(h.gateway.deliverCalls()).toBe(0);
  });

  it('200 ignored for a correctly signed event this service does not handle', async () => {
    const cb = signCallback({ Event: 'mix_start', Appid: '111111', TaskId: 't' });
    const reply = await postCallback(h, cb);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ ok: true, outcome: 'ignored', event: 'mix_start' });
    expect(h.gateway.deliverCalls()).toBe(0);
    expect(h.logs.join('')).toContain('callback ignored');
  });

  it('401, not 200, for an unhandled event with a bad signature', async () => {
    const cb = signCallback({ Event: 'mix_start', Appid: '111111' }, { secret: 'wrong' });
    expect((await postCallback(h, cb)).status).toBe(401);
  });
});

describe('POST /zego/callback: nonce binding', () => {
  it('an exact retry passes again (and is delivered again, Temporal dedups)', async () => {
    const cb = transcodeStart({ TaskId: 'retry-task' });
    const first = await postCallback(h, cb);
    const second = await postCallback(h, cb);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(h.gateway.deliverCalls()).toBe(2);
  });

  it('the same callback in another encoding is the same body', async () => {
    const cb = transcodeStart({ TaskId: 'retry-task-2' });
    expect((await postCallback(h, cb, 'json')).status).toBe(200);
    expect((await postCallback(h, cb, 'form')).status).toBe(200);
  });

  it.each<[string, (cb: ZegoCallbackBody) => ZegoCallbackBody]>([
    ['another StopReason', (cb) => ({ ...cb, StopReason: 1 })],
    ['another TaskId', (cb) => ({ ...cb, TaskId: 'someone-elses-task' })],
    ['another Appid', (cb) => ({ ...cb, Appid: '999999' })],
    ['another Sequence', (cb) => ({ ...cb, Sequence: 7 })],
  ])('a captured signature carrying %s → 401, never delivered', async (_name, tamper) => {
    const cb = transcodeStop({ TaskId: 'victim' });
    expect((await postCallback(h, cb)).status).toBe(200);
    const replay = await postCallback(h, tamper(cb));
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ ok: false, code: 'nonce_reused' });
    expect(h.gateway.deliverCalls()).toBe(1);
    // ... while the original still passes.
    expect((await postCallback(h, cb)).status).toBe(200);
  });

  it('a nonce store failure → 503 + Retry-After, nothing delivered', async () => {
    await h.close();
    const failing: NonceStore = {
      bind: async () => {
        throw new Error('connection refused');
      },
      close: async () => undefined,
    };
    h = await startApp({ nonces: failing });
    const reply = await postCallback(h, transcodeStart());
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('2');
    expect(reply.body).toMatchObject({ ok: false, error: expect.any(String), details: [] });
    expect(h.gateway.deliverCalls()).toBe(0);
  });
});

describe('POST /zego/callback: Temporal unavailable', () => {
  it('503 + Retry-After from TemporalUnavailableError; the retry passes once Temporal is back', async () => {
    h.gateway.deliverImpl = async () => {
      throw new TemporalUnavailableError('deadline exceeded', 7);
    };
    const cb = transcodeStart({ TaskId: 'down-task' });
    const reply = await postCallback(h, cb);
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('7');
    expect(reply.body).toMatchObject({ ok: false, error: expect.any(String), details: [] });
    expect(h.gateway.delivered).toHaveLength(0);

    h.gateway.deliverImpl = new RecordingGateway().deliverImpl;
    const retry = await postCallback(h, cb);
    expect(retry.status).toBe(200);
    expect(h.gateway.delivered).toHaveLength(1);
  });

  it('503 + default Retry-After for any other failure of deliver', async () => {
    h.gateway.deliverImpl = async () => {
      throw new TypeError('boom');
    };
    const reply = await postCallback(h, transcodeStop());
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('2');
  });

  it('503 when the hand-off outlives handoffTimeoutMs', async () => {
    await h.close();
    h = await startApp({ handoffTimeoutMs: 100 });
    h.gateway.deliverImpl = () => new Promise(() => undefined);
    const started = Date.now();
    const reply = await postCallback(h, transcodeStart());
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBeTruthy();
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('request ids and logs', () => {
  it('echoes X-Request-Id, generates one when absent or unsafe', async () => {
    const echoed = await request(`${h.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('abc-123');
    const generated = await request(`${h.url}/healthz`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await request(`${h.url}/healthz`, { headers: { 'x-request-id': 'a b\tc<script>' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs callbacks with requestId, appId, taskId, workflowId and never the signature', async () => {
    const cb = transcodeStart({ TaskId: 'logged-task', Appid: '424242' });
    await postCallback(h, cb, 'json', { 'x-request-id': 'req-logged' });
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const handed = lines.find((l) => l.msg === 'callback recorded');
    expect(handed).toMatchObject({
      requestId: 'req-logged',
      appId: '424242',
      taskId: 'logged-task',
      workflowId: lifecycleWorkflowId('424242', 'logged-task'),
    });
    expect(h.logs.join('')).not.toContain(String(cb.Signature));
    expect(h.logs.join('')).not.toContain(TEST_CALLBACK_SECRET);
  });
});

describe('task queries', () => {
  it('GET /apps/:appId/tasks/:taskId → the state document, or 404', async () => {
    h.gateway.tasks.set('111/t1', stateDoc('111', 't1'));
    const found = await request(`${h.url}/apps/111/tasks/t1`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ ok: true, appId: '111', taskId: 't1', status: 'running' });
    const missing = await request(`${h.url}/apps/111/tasks/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ ok: false, error: 'task not found' });
  });

  it('GET /tasks/:taskId: 404 unknown, 409 ambiguous listing the apps, else the document', async () => {
    expect((await request(`${h.url}/tasks/unknown`)).status).toBe(404);

    h.gateway.tasks.set('111/shared', stateDoc('111', 'shared'));
    h.gateway.tasks.set('222/shared', stateDoc('222', 'shared'));
    const ambiguous = await request(`${h.url}/tasks/shared`);
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.body).toMatchObject({ ok: false, apps: ['111', '222'] });

    h.gateway.tasks.set('333/only', stateDoc('333', 'only', 'stopped'));
    const one = await request(`${h.url}/tasks/only`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ ok: true, appId: '333', taskId: 'only', status: 'stopped' });
    expect(h.gateway.calls).toContainEqual({ method: 'getTask', args: ['333', 'only'] });
  });

  it('GET /tasks lists with the validated filter', async () => {
    const item: TaskListItem = {
      appId: '111',
      taskId: 't1',
      userId: 'u',
      workflowId: lifecycleWorkflowId('111', 't1'),
      runId: 'r',
      status: 'running',
      executionStatus: 'RUNNING',
      startTime: '2023-11-14T22:13:20.000Z',
      closeTime: null,
    };
    h.gateway.listImpl = async () => [item];
    const reply = await request(`${h.url}/tasks?status=running&appId=111&limit=5`);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ ok: true, tasks: [item] });
    expect(h.gateway.calls).toContainEqual({
      method: 'list',
      args: [{ status: 'running', appId: '111', limit: 5 }],
    });
    expect((await request(`${h.url}/tasks`)).status).toBe(200);
    expect(h.gateway.calls).toContainEqual({ method: 'list', args: [{}] });
  });

  it.each([
    ['status=bogus', 'status'],
    ['status=running&status=stopped', 'status'],
    ['limit=0', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=100000', 'limit'],
  ])('GET /tasks?%s → 400 naming %s', async (query, field) => {
    const reply = await request(`${h.url}/tasks?${query}`);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ ok: false, details: [expect.objectContaining({ field })] });
    expect(String(reply.body.error)).toContain(field);
    expect(h.gateway.calls.filter((c) => c.method === 'list')).toHaveLength(0);
  });

  it('gateway failures → 503 + Retry-After', async () => {
    h.gateway.failQueries = new TemporalUnavailableError('down', 3);
    for (const path of ['/apps/1/tasks/t', '/tasks/t', '/tasks?status=running']) {
      const reply = await request(`${h.url}${path}`);
      expect(reply.status).toBe(503);
      expect(reply.headers.get('retry-after')).toBe('3');
      expect(reply.body.ok).toBe(false);
    }
    h.gateway.failQueries = new Error('unexpected');
    expect((await request(`${h.url}/tasks/t`)).status).toBe(503);
  });
});

describe('health, metrics, fallbacks', () => {
  it('GET /healthz → 200', async () => {
    const reply = await request(`${h.url}/healthz`);
    expect(reply.status).toBe(200);
    expect(reply.body.ok).toBe(true);
  });

  it('GET /readyz follows gateway.isReady()', async () => {
    expect((await request(`${h.url}/readyz`)).status).toBe(200);
    h.gateway.readyImpl = async () => false;
    expect((await request(`${h.url}/readyz`)).status).toBe(503);
    h.gateway.readyImpl = async () => {
      throw new Error('no connection');
    };
    const reply = await request(`${h.url}/readyz`);
    expect(reply.status).toBe(503);
    expect(reply.body.ok).toBe(false);
  });

  it('GET /metrics → Prometheus text with request, callback and hand-off series', async () => {
    await postCallback(h, transcodeStart({ TaskId: 'm1' }));
    const cb = transcodeStop({ TaskId: 'm2' });
    await postCallback(h, cb);
    await postCallback(h, cb);
    await postCallback(h, transcodeStart({}, { secret: 'wrong' }));
    await postRaw(h, 'junk', 'text/plain');
    await postCallback(h, transcodeStart({ Padding: 'x'.repeat(70_000) }));
    await postCallback(h, signCallback({ Event: 'mix_stop', Appid: '1' }));
    h.gateway.deliverImpl = async () => {
      throw new TemporalUnavailableError('down');
    };
    await postCallback(h, transcodeStop({ TaskId: 'm3' }));

    const res = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    expect(value('zego_callbacks_total{event="transcode_start",outcome="accepted"}')).toBe(1);
    expect(value('zego_callbacks_total{event="transcode_stop",outcome="accepted"}')).toBe(1);
    expect(value('zego_callbacks_total{event="transcode_stop",outcome="duplicate"}')).toBe(1);
    expect(value('zego_callbacks_total{event="unknown",outcome="unsigned"}')).toBe(1);
    expect(value('zego_callbacks_total{event="unknown",outcome="unreadable"}')).toBe(1);
    expect(value('zego_callbacks_total{event="unknown",outcome="too_large"}')).toBe(1);
    expect(value('zego_callbacks_total{event="other",outcome="ignored"}')).toBe(1);
    expect(value('zego_callbacks_total{event="transcode_stop",outcome="unavailable"}')).toBe(1);
    expect(value('zego_callback_handoff_duration_seconds_count{outcome="accepted"}')).toBe(3);
    expect(value('zego_callback_handoff_duration_seconds_count{outcome="unavailable"}')).toBe(1);
    expect(text).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/zego\/callback",status="200"\} \d+/,
    );
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('unknown routes → 404 JSON; an undecodable path → 400 JSON', async () => {
    const missing = await request(`${h.url}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ ok: false, error: expect.any(String), details: [] });
    const getCallback = await request(`${h.url}/zego/callback`);
    expect(getCallback.status).toBe(404);
    const bad = await request(`${h.url}/tasks/%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect(bad.body.ok).toBe(false);
  });

  it('two apps in one process keep separate metric registries', () => {
    const a = createMetrics();
    const b = createMetrics();
    expect(a.registry).not.toBe(b.registry);
  });
});

describe('the admin token guard', () => {
  const ADMIN_ROUTES = [
    '/apps/111/tasks/t1',
    '/tasks/t1',
    '/tasks?status=running',
    '/usage',
    '/metrics',
    '/nope',
  ];

  it.each(ADMIN_ROUTES)(
    '%s: 401 without a token, 401 with a wrong one, served with either rotated token',
    async (route) => {
      h.gateway.tasks.set('111/t1', stateDoc('111', 't1'));
      const missing = await request(`${h.url}${route}`, { authorization: null });
      expect(missing.status).toBe(401);
      expect(missing.body).toMatchObject({ ok: false, code: 'token_missing' });
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
      for (const wrong of [
        `Bearer ${ADMIN_TOKEN}x`,
        `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
        `Basic ${ADMIN_TOKEN}`,
        ADMIN_TOKEN,
      ]) {
        const refused = await request(`${h.url}${route}`, { authorization: wrong });
        expect(refused.status).toBe(401);
        expect(JSON.stringify(refused.body)).not.toContain(ADMIN_TOKEN.slice(0, 12));
      }
      for (const token of [ADMIN_TOKEN, OTHER_ADMIN_TOKEN]) {
        const served = await request(`${h.url}${route}`, { authorization: `Bearer ${token}` });
        expect(served.status).not.toBe(401);
      }
      expect(h.logs.join('')).not.toContain(ADMIN_TOKEN);
      expect(h.logs.join('')).not.toContain(OTHER_ADMIN_TOKEN);
    },
  );

  it('the callback and the probes need no token', async () => {
    expect((await request(`${h.url}/healthz`, { authorization: null })).status).toBe(200);
    expect((await request(`${h.url}/readyz`, { authorization: null })).status).toBe(200);
    expect((await postCallback(h, transcodeStart({ TaskId: 'no-token' }))).status).toBe(200);
  });

  it('counts failures in metrics and refuses an address after too many with 429, the right token included', async () => {
    for (let i = 0; i < 20; i++) {
      expect(
        (await request(`${h.url}/tasks/t1`, { authorization: 'Bearer guess-guess-guess-guess' })).status,
      ).toBe(401);
    }
    const limited = await request(`${h.url}/tasks/t1`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ ok: false, code: 'rate_limited' });
    // Probes and callbacks are not behind the limiter.
    expect((await request(`${h.url}/healthz`, { authorization: null })).status).toBe(200);
    const text = await h.metrics.registry.metrics();
    expect(text).toContain('zego_admin_auth_failures_total{reason="invalid"} 20');
    expect(text).toMatch(/zego_admin_auth_failures_total\{reason="rate_limited"\} [1-9]/);
  });

  it('successful requests do not use up the allowance', async () => {
    for (let i = 0; i < 30; i++) expect((await request(`${h.url}/tasks?status=running`)).status).toBe(200);
    expect((await request(`${h.url}/tasks?status=running`, { authorization: 'Bearer nope' })).status).toBe(
      401,
    );
  });

  it('without ADMIN_TOKEN the admin routes do not exist (404), the callback and the probes still answer', async () => {
    const off = await startApp({ adminTokens: [] });
    try {
      for (const route of ADMIN_ROUTES) {
        const reply = await request(`${off.url}${route}`);
        expect([route, reply.status]).toEqual([route, 404]);
      }
      expect((await request(`${off.url}/readyz`)).status).toBe(200);
      expect((await postCallback(off, transcodeStart({ TaskId: 'admin-off' }))).status).toBe(200);
    } finally {
      await off.close();
    }
  });

  it('split surfaces: the public app serves no admin route, the admin app no callback', async () => {
    const common: AppDeps = {
      gateway: h.gateway,
      recorder: new DirectRecorder(h.nonces, h.gateway),
      readiness: async () => ({ status: 'ready', mode: 'direct', dependencies: [] }),
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      secrets: [TEST_CALLBACK_SECRET],
      maxSkewMs: MAX_SKEW_MS,
      adminTokens: [ADMIN_TOKEN],
    };
    const servers = await Promise.all(
      (['public', 'admin'] as const).map(
        (surface) =>
          new Promise<Server>((resolve) => {
            const s = createApp(common, surface).listen(0, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    const [pub, adm] = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`);
    try {
      expect((await request(`${pub}/tasks?status=running`)).status).toBe(404);
      expect((await request(`${pub}/metrics`)).status).toBe(404);
      expect((await request(`${pub}/readyz`)).status).toBe(200);
      expect((await request(`${adm}/tasks?status=running`)).status).toBe(200);
      expect((await request(`${adm}/readyz`)).status).toBe(200);
      const { body, contentType } = encodeCallback(transcodeStart({ TaskId: 'split' }));
      const onAdmin = await request(`${adm}/zego/callback`, {
        method: 'POST',
        body,
        headers: { 'content-type': contentType },
      });
      expect(onAdmin.status).toBe(404);
    } finally {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    }
  });
});
