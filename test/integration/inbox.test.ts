/**
 * The durable callback inbox end to end, against real Temporal and PostgreSQL:
 *
 *  - a callback Temporal refuses for good is parked as `rejected` with its error, raises a
 *    `callback_rejected` alert (log, database, webhook), shows in the callback log and the metrics,
 *    and is delivered once redelivered after the cause is gone (always on a dev server of its own:
 *    the refusal comes from a dynamic-config limit it is restarted with and without);
 *  - two server replicas relaying one backlog while Temporal (the dev server, or the cluster under
 *    test:cluster) is down: every callback's effect once, each task's callbacks signalled in
 *    Sequence order;
 *  - PostgreSQL cut off, and PostgreSQL hanging (a proxy that accepts and never answers): 503
 *    within HANDOFF_TIMEOUT, /readyz 503 naming the database, and nothing answered 200 lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { loadServerConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startHttpService, type HttpService } from '../../src/main/services';
import { locateTemporalCli } from '../../tools/temporal-cli';
import { temporalConnectConfig } from '../../src/temporal/connection';
import { freePort } from '../../tools/process/ports';
import { startDevServer, type DevServer } from '../../tools/temporal-dev-server';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { Connection } from '@temporalio/client';
import { lifecycleWorkflowId, type CallbackSignalPayload } from '../../workflows/definitions';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alert-receiver';
import { createTestDatabase, type TestDatabase } from '../../tools/postgres/test-database';
import {
  ledgerRows,
  startTestService,
  TEST_ADMIN_TOKEN,
  uniqueTask,
  zegoTime,
  type TestService,
} from '../helpers/service';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal';

const silent = createLogger({ level: 'silent' });
const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

interface Answer {
  status: number;
  ms: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function post(url: string, body: Record<string, unknown>): Promise<Answer> {
  const { body: text, contentType } = encodeCallback(body);
  const t = Date.now();
  const res = await fetch(`${url}/zego/callback`, {
    method: 'POST',
    body: text,
    headers: { 'content-type': contentType },
  });
  return {
    status: res.status,
    ms: Date.now() - t,
    headers: res.headers,
    json: (await res.json()) as Record<string, unknown>,
  };
}

async function admin(url: string, pathname: string, method = 'GET'): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${pathname}`, { method, headers: auth });
  return (await res.json()) as Record<string, unknown>;
}

async function metricValue(url: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`, { headers: auth })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('a callback Temporal refuses for good', () => {
  let dir: string;
  let temporal: DevServer | undefined;
  let svc: TestService | undefined;
  let receiver: AlertReceiver;
  let restart: (dynamicConfig?: Record<string, unknown>) => Promise<void>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'zego-refuse-'));
    receiver = await startAlertReceiver();
    const cliPath = await locateTemporalCli();
    const port = await freePort();
    restart = async (dynamicConfig) => {
      await temporal?.stop();
      temporal = await startDevServer({
        cliPath,
        port,
        headless: true,
        dbFilename: path.join(dir, 'temporal.db'),
        dynamicConfig,
      });
      const connection = await Connection.connect({ address: temporal.address });
      await ensureSearchAttributes(connection, 'default').finally(() => connection.close());
    };
    // Payloads over 1 KiB are refused (INVALID_ARGUMENT): a start with long stream URLs is one.
    await restart({ 'limit.blobSize.error': 1024, 'limit.blobSize.warn': 512 });
    svc = await startTestService({
      database: 'postgres',
      temporalAddress: temporal!.address,
      env: { ALERT_WEBHOOK_URL: receiver.url },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await temporal?.stop();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is parked as rejected with its error, alerted, listed, counted, and delivered once redelivered', async () => {
    const s = svc!;
    const { appId, taskId } = uniqueTask('refused');
    const longUrl = `rtmp://push.example.com/live/${'k'.repeat(600)}`;
    const big = transcodeStart({
      Appid: appId,
      TaskId: taskId,
      Timestamp: zegoTime(-60),
      Details: {
        Input: { StreamUrl: longUrl },
        Outputs: [{ StreamId: 'o', StreamUrl: longUrl, Width: 1280, Height: 720 }],
      },
    });
    const reply = await s.post(big);
    expect(reply.status).toBe(200);
    const id = String(reply.json.callbackId);

    await waitUntil('entry rejected', async () => {
      const e = (await s.get(`/callbacks/${id}`)).json.callback as { status: string };
      return e.status === 'rejected';
    });
    const entry = (await s.get(`/callbacks/${id}`)).json.callback as Record<string, unknown>;
    expect(entry).toMatchObject({ status: 'rejected', appId, taskId, event: 'transcode_start' });
    expect(String(entry.error)).toMatch(/^INVALID_ARGUMENT: .*(size|limit)/i);
    const listed = (await s.get('/callbacks?status=rejected')).json.callbacks as { id: string }[];
    expect(listed.map((e) => e.id)).toContain(id);

    // The alert: in the database, and POSTed with its idempotency key.
    await waitUntil('alert delivered', async () =>
      receiver.received.some((a) => a.body.kind === 'callback_rejected' && a.body.taskId === taskId),
    );
    const posted = receiver.received.find(
      (a) => a.body.kind === 'callback_rejected' && a.body.taskId === taskId,
    )!;
    expect(posted.headers['idempotency-key']).toBe(`callback_rejected:${id}:0`);
    expect(posted.body).toMatchObject({ appId, workflowId: lifecycleWorkflowId(appId, taskId) });
    // The receiver has the POST before the raiser records its 2xx: wait for the row to say so.
    await waitUntil('alert marked delivered', async () => {
      const [row] = await s.db.alerts.list({ kind: 'callback_rejected', taskId });
      return row?.delivery === 'delivered';
    });
    const [stored] = await s.db.alerts.list({ kind: 'callback_rejected', taskId });
    expect(stored).toMatchObject({
      delivery: 'delivered',
      details: { callbackId: id, code: 'INVALID_ARGUMENT' },
    });
    const alerts = (await s.get(`/alerts?kind=callback_rejected&taskId=${encodeURIComponent(taskId)}`)).json
      .alerts as unknown[];
    expect(alerts).toHaveLength(1);
    expect(await metricValue(s.url, 'zego_inbox_deliveries_total{outcome="refused"}')).toBeGreaterThanOrEqual(
      1,
    );
    await waitUntil(
      'rejected gauge',
      async () => ((await metricValue(s.url, 'zego_inbox_rejected')) ?? 0) >= 1,
    );

    // The cause goes away (the limit is lifted); redelivery hands it over and the lifecycle runs.
    await restart();
    const again = await s.admin('POST', `/callbacks/${id}/redeliver`);
    expect(again.status).toBe(200);
    expect(again.json.callback).toMatchObject({ status: 'pending', redeliveries: 1 });
    const doc = await s.waitForTask(appId, taskId, (d) => d.status === 'running', 60_000);
    expect(doc.events).toEqual([expect.objectContaining({ event: 'transcode_start', deliveries: 1 })]);
    await waitUntil('entry delivered', async () => {
      const e = (await s.get(`/callbacks/${id}`)).json.callback as { status: string };
      return e.status === 'delivered';
    });
    // Redelivering all rejected: none left.
    expect((await s.admin('POST', '/callbacks/redeliver?status=rejected')).json).toMatchObject({
      redelivered: 0,
    });
    expect((await s.admin('POST', '/callbacks/redeliver')).status).toBe(400);
    expect((await s.admin('POST', '/callbacks/abc/redeliver')).status).toBe(400);
    expect((await s.admin('POST', '/callbacks/99999999/redeliver')).status).toBe(404);
  }, 240_000);
});

describe('two server replicas relaying one backlog', () => {
  let temporal: TestTemporal | undefined;
  let svc: TestService | undefined;
  let second: HttpService | undefined;
  let receiver: AlertReceiver;

  beforeAll(async () => {
    receiver = await startAlertReceiver();
    // The dev server on a file, or the cluster under test:cluster: stopped, then started again.
    temporal = await startTestTemporal();
    svc = await startTestService({
      database: 'postgres',
      temporalAddress: temporal.address,
      env: { ALERT_WEBHOOK_URL: receiver.url, CALLBACK_BACKLOG_ALERT_AFTER: '2s' },
    });
    second = await startHttpService(
      loadServerConfig(svc.env),
      temporalConnectConfig({ ...process.env, TEMPORAL_ADDRESS: temporal.address }),
      silent,
    );
    // Temporal goes away: the backlog builds up in the inbox.
    await temporal.stop();
  });
  afterAll(async () => {
    await second?.close();
    await svc?.stop();
    await temporal?.destroy();
    await receiver?.close();
  });

  it('delivers every callback once, each task in Sequence order; the backlog is alerted once and cleared', async () => {
    const s = svc!;
    const urls = [s.url, second!.url];
    const now = Number(zegoTime());
    const tasks = Array.from({ length: 30 }, () => uniqueTask('backlog'));
    // Each task's callbacks, sent out of order and to both replicas.
    for (const [i, { appId, taskId }] of tasks.entries()) {
      const ids = { Appid: appId, TaskId: taskId };
      const callbacks = [
        transcodeStop({ ...ids, Sequence: 2, Timestamp: String(now) }),
        transcodeStart({ ...ids, Sequence: 0, Timestamp: String(now - 600) }),
        transcodeStart({
          ...ids,
          Sequence: 1,
          Status: 'TranscodeUpdated',
          Timestamp: String(now - 300),
          Details: { Outputs: [{ StreamId: 'o', Width: 1920, Height: 1080 }] },
        }),
      ];
      for (const [k, cb] of callbacks.entries()) expect((await post(urls[(i + k) % 2], cb)).status).toBe(200);
    }
    const pending = (await admin(s.url, '/callbacks?status=pending&limit=1000')).callbacks as unknown[];
    expect(pending.length).toBeGreaterThanOrEqual(90);
    for (const url of urls) {
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'degraded', mode: 'inbox' });
    }

    // The backlog outlived CALLBACK_BACKLOG_ALERT_AFTER: one alert, whichever replicas saw it.
    await waitUntil('backlog alerted', async () =>
      receiver.received.some((a) => a.body.kind === 'callback_backlog'),
    );
    const [backlog, ...more] = await s.db.alerts.list({ kind: 'callback_backlog' });
    expect(more).toEqual([]);
    expect(backlog).toMatchObject({ resolvedAt: null, details: { pending: expect.any(Number) } });

    await temporal!.start();
    for (const { appId, taskId } of tasks) {
      const doc = await s.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 120_000);
      expect(doc.status).toBe('stopped');
      expect(doc.events.map((e) => [e.sequence, e.deliveries])).toEqual([
        [0, 1],
        [1, 1],
        [2, 1],
      ]);
      expect(doc.billing.lines).toEqual([
        { tier: 'hd', seconds: 300, minutes: 5, cost: 0.125 },
        { tier: 'fhd', seconds: 300, minutes: 5, cost: 0.49 },
      ]);
      expect(await ledgerRows(s.db, appId, taskId)).toHaveLength(1);
      // Signalled in Sequence order although they arrived stop first.
      const { events } = await s.http.client.workflow
        .getHandle(lifecycleWorkflowId(appId, taskId))
        .fetchHistory();
      const sequences = (events ?? [])
        .filter((e) => e.workflowExecutionSignaledEventAttributes)
        .map((e) => {
          const payload = e.workflowExecutionSignaledEventAttributes!.input!.payloads![0];
          return defaultPayloadConverter.fromPayload<CallbackSignalPayload>(payload).sequence;
        });
      expect(sequences).toEqual([0, 1, 2]);
    }
    // Together the replicas delivered all 90, none twice (each lifecycle counted one delivery per
    // callback, above). Which replica's probe finds Temporal back first decides how they share it.
    const entries = (await admin(s.url, '/callbacks?status=delivered&limit=1000')).callbacks as {
      taskId: string;
    }[];
    const ours = entries.filter((e) => tasks.some((t) => t.taskId === e.taskId));
    expect(ours).toHaveLength(90);
    const delivered = await Promise.all(
      urls.map((url) => metricValue(url, 'zego_inbox_deliveries_total{outcome="accepted"}')),
    );
    expect((delivered[0] ?? 0) + (delivered[1] ?? 0)).toBe(90);
    await waitUntil(
      'inbox drained',
      async () => ((await metricValue(s.url, 'zego_inbox_pending')) ?? 1) === 0,
    );
  }, 300_000);
});

describe('the database that records callbacks is cut off, or hangs', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let svc: TestService | undefined;
  let server: HttpService | undefined;
  const HANDOFF_MS = 2_000;

  beforeAll(async () => {
    db = await createTestDatabase();
    const real = new URL(db.url);
    proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port || 5432) });
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    // The worker (and the assertions) use the database directly; the server only through the proxy.
    svc = await startTestService({ database: 'postgres', databaseUrl: db.url });
    server = await startHttpService(
      loadServerConfig({ ...svc.env, DATABASE_URL: proxied.toString(), HANDOFF_TIMEOUT: `${HANDOFF_MS}ms` }),
      temporalConnectConfig(process.env),
      silent,
    );
  });
  afterAll(async () => {
    proxy?.restore();
    await server?.close();
    await svc?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 within HANDOFF_TIMEOUT, /readyz 503 naming the database, and loses nothing answered 200', async () => {
    const url = server!.url;
    const now = Number(zegoTime());
    const acknowledged: { appId: string; taskId: string }[] = [];
    const startOf = (t: { appId: string; taskId: string }) =>
      transcodeStart({ Appid: t.appId, TaskId: t.taskId, Timestamp: String(now - 120) });
    const send = async (expected: number) => {
      const t = uniqueTask('pgfault');
      const answer = await post(url, startOf(t));
      expect([answer.status, answer.ms <= HANDOFF_MS + 750]).toEqual([expected, true]);
      if (answer.status === 200) acknowledged.push(t);
      return answer;
    };
    const readyz = async () => {
      const t = Date.now();
      const res = await fetch(`${url}/readyz`);
      return { status: res.status, ms: Date.now() - t, json: (await res.json()) as Record<string, unknown> };
    };

    await send(200);
    expect((await readyz()).status).toBe(200);

    proxy.cut();
    const refused = await send(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.json).toMatchObject({ ok: false, error: expect.stringMatching(/could not be recorded/) });
    const cutReady = await readyz();
    expect(cutReady).toMatchObject({
      status: 503,
      json: {
        error: expect.stringContaining('database'),
        details: expect.arrayContaining([{ dependency: 'database', ready: false }]),
      },
    });
    proxy.restore();
    await waitUntil('ready again', async () => (await readyz()).status === 200, 30_000);
    await send(200);

    proxy.hang();
    for (let i = 0; i < 3; i++) await send(503);
    const hungReady = await readyz();
    expect(hungReady.status).toBe(503);
    expect(hungReady.ms).toBeLessThan(HANDOFF_MS + 1_000);
    proxy.restore();
    await waitUntil('ready after the hang', async () => (await readyz()).status === 200, 30_000);
    await send(200);

    // Nothing answered 200 was lost: each of them became a running lifecycle.
    expect(acknowledged).toHaveLength(3);
    for (const t of acknowledged)
      await svc!.waitForTask(t.appId, t.taskId, (d) => d.status === 'running', 60_000);
  }, 180_000);
});
