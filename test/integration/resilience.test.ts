/**
 * What must hold when things break: Temporal unreachable (503 with Retry-After, nothing changed,
 * accepted once it is back) and a worker SIGKILLed mid-lifecycle (billing still exactly once).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../tools/process/ports';
import { loadServerConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startHttpService, type HttpService } from '../../src/main/services';
import { temporalConnectConfig } from '../../src/temporal/connection';
import { lifecycleWorkflowId } from '../../workflows/definitions';
import { ledgerRows, startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal';
import { killWorker, spawnWorker, type Child } from '../helpers/worker-process';

describe('Temporal unreachable', () => {
  let temporal: TestTemporal | undefined;
  let svc: TestService | undefined;
  let direct: HttpService | undefined;

  beforeAll(async () => {
    // The dev server on a SQLite file, or the cluster under test:cluster: stopped and started
    // again on the same port with its data.
    temporal = await startTestTemporal();
    svc = await startTestService({ database: 'postgres', temporalAddress: temporal.address });
    // A lone server without a database on the same task queue: the direct hand-off.
    const { DATABASE_URL: _unused, ...withoutDb } = svc.env;
    direct = await startHttpService(
      loadServerConfig(withoutDb),
      temporalConnectConfig({ ...process.env, TEMPORAL_ADDRESS: temporal.address }),
      createLogger({ level: 'silent' }),
    );
  });
  afterAll(async () => {
    await direct?.close();
    await svc?.stop();
    await temporal?.destroy();
  });

  const readyz = async (url: string) => {
    const res = await fetch(`${url}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('the inbox answers 200 while Temporal is down, /readyz says degraded, and the relay delivers once it is back', async () => {
    const s = svc!;
    const { appId, taskId } = uniqueTask('down');
    const now = Number(zegoTime());
    expect(
      (await s.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 120) }))).status,
    ).toBe(200);
    await s.waitForTask(appId, taskId, (d) => d.status === 'running');
    expect(await readyz(s.url)).toMatchObject({ status: 200, body: { status: 'ready', mode: 'inbox' } });

    await temporal!.stop();
    const stop = transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) });
    const recorded = await s.post(stop);
    expect(recorded.status).toBe(200);
    expect(recorded.json).toMatchObject({ ok: true, outcome: 'accepted', callbackId: expect.any(String) });
    expect(await readyz(s.url)).toMatchObject({
      status: 200,
      body: {
        status: 'degraded',
        dependencies: expect.arrayContaining([{ dependency: 'temporal', ready: false }]),
      },
    });
    expect((await s.get('/healthz')).status).toBe(200);
    const entry = await s.get(`/callbacks/${String(recorded.json.callbackId)}`);
    expect(entry.json.callback).toMatchObject({ status: 'pending', event: 'transcode_stop', sequence: 1 });

    await temporal!.start(); // same port and data: the server comes back with its state
    const doc = await s.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 90_000);
    expect(doc).toMatchObject({ status: 'stopped', durationSeconds: 120 });
    expect(doc.events.find((e) => e.event === 'transcode_stop')?.deliveries).toBe(1);
    expect(await ledgerRows(s.db, appId, taskId)).toHaveLength(1);
    const delivered = await s.get(`/callbacks/${String(recorded.json.callbackId)}`);
    expect(delivered.json.callback).toMatchObject({ status: 'delivered', outcome: 'accepted' });
    await waitUntil(async () => (await readyz(s.url)).body.status === 'ready', 30_000);
  }, 180_000);

  it('without a database the server answers 503 with Retry-After while Temporal is down, and takes the retry once it is back', async () => {
    const s = svc!;
    const { appId, taskId } = uniqueTask('direct');
    const now = Number(zegoTime());
    const post = async (body: Record<string, unknown>) => {
      const { body: text, contentType } = encodeCallback(body);
      const res = await fetch(`${direct!.url}/zego/callback`, {
        method: 'POST',
        body: text,
        headers: { 'content-type': contentType },
      });
      return {
        status: res.status,
        headers: res.headers,
        json: (await res.json()) as Record<string, unknown>,
      };
    };
    expect(direct!.mode).toBe('direct');
    await waitUntil(async () => (await readyz(direct!.url)).status === 200, 30_000);
    expect(await readyz(direct!.url)).toMatchObject({ body: { status: 'ready', mode: 'direct' } });
    expect(
      (await post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 60) }))).status,
    ).toBe(200);
    await s.waitForTask(appId, taskId, (d) => d.status === 'running');

    await temporal!.stop();
    const stop = transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) });
    const refused = await post(stop);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.json.ok).toBe(false);
    expect(await readyz(direct!.url)).toMatchObject({
      status: 503,
      body: { mode: 'direct', details: expect.arrayContaining([{ dependency: 'temporal', ready: false }]) },
    });

    await temporal!.start();
    // ZEGO's retry of the same body (here: retried until accepted, as ZEGO's 2/4/8/16/32 s schedule would).
    let accepted = await post(stop);
    for (let i = 0; accepted.status !== 200 && i < 30; i++) {
      await sleep(1000);
      accepted = await post(stop);
    }
    expect(accepted.status).toBe(200);
    const doc = await s.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 60_000);
    expect(doc).toMatchObject({ status: 'stopped', durationSeconds: 60 });
    expect(await ledgerRows(s.db, appId, taskId)).toHaveLength(1);
  }, 180_000);
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(250);
  }
}

describe('worker killed and restarted mid-lifecycle', () => {
  let svc: TestService;
  const workers: Child[] = [];

  beforeAll(async () => {
    svc = await startTestService({ database: 'postgres', withoutWorker: true });
  });
  afterAll(async () => {
    await Promise.all(workers.map(killWorker));
    await svc?.stop();
  });

  let metricsAddress = '';
  async function startWorker(): Promise<Child> {
    metricsAddress = `127.0.0.1:${await freePort()}`;
    const child = await spawnWorker({ ...svc.env, WORKER_METRICS_ADDRESS: metricsAddress });
    workers.push(child);
    return child;
  }

  it('bills exactly once when the worker dies between start and stop, and right after the stop', async () => {
    const first = uniqueTask('crash');
    const second = uniqueTask('crash');
    const now = Number(zegoTime());

    let worker = await startWorker();
    await svc.post(
      transcodeStart({ Appid: first.appId, TaskId: first.taskId, Timestamp: String(now - 300) }),
    );
    await svc.waitForTask(first.appId, first.taskId, (d) => d.status === 'running');
    await killWorker(worker);
    // Accepted while no worker runs: Temporal holds it durably.
    const stop = await svc.post(
      transcodeStop({ Appid: first.appId, TaskId: first.taskId, Sequence: 1, Timestamp: String(now) }),
    );
    expect(stop.status).toBe(200);

    worker = await startWorker();
    const doc = await svc.waitForTask(
      first.appId,
      first.taskId,
      (d) => d.billing.status === 'finalized',
      90_000,
    );
    expect(doc.billing).toMatchObject({ billableMinutes: 5, totalCost: 0.125 });

    // Kill it again once the second lifecycle's settlement is under way: its billing activity has
    // been scheduled (seen in the history), so the kill lands between scheduling and completion or
    // right after it; either way billing must happen exactly once.
    await svc.post(
      transcodeStart({ Appid: second.appId, TaskId: second.taskId, Timestamp: String(now - 60) }),
    );
    await svc.waitForTask(second.appId, second.taskId, (d) => d.status === 'running');
    await svc.post(
      transcodeStop({ Appid: second.appId, TaskId: second.taskId, Sequence: 1, Timestamp: String(now) }),
    );
    const handle = svc.http.client.workflow.getHandle(lifecycleWorkflowId(second.appId, second.taskId));
    await waitUntil(async () => {
      const { events } = await handle.fetchHistory();
      return (events ?? []).some(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'finalizeBilling',
      );
    }, 60_000);
    await killWorker(worker);
    await startWorker();
    const doc2 = await svc.waitForTask(
      second.appId,
      second.taskId,
      (d) => d.billing.status === 'finalized',
      90_000,
    );
    expect(doc2.billing).toMatchObject({ billableMinutes: 1 });

    expect(await ledgerRows(svc.db, first.appId, first.taskId)).toHaveLength(1);
    expect(await ledgerRows(svc.db, second.appId, second.taskId)).toHaveLength(1);
    // The worker's own Temporal SDK metrics, for scraping: the restarted worker completed the
    // second lifecycle's activities, so their series must appear (polled: the exporter is periodic).
    let metrics = '';
    await waitUntil(async () => {
      metrics = await (await fetch(`http://${metricsAddress}/metrics`)).text();
      return /temporal_activity_execution_latency|temporal_workflow_completed/.test(metrics);
    }, 30_000);
    expect(metrics).toMatch(/temporal_activity_execution_latency|temporal_workflow_completed/);
  }, 300_000);
});
