/**
 * Contract v2, "A stale task's own stop", end to end on the real Temporal dev server: a task
 * declared stale (no stop within MAX_TASK_DURATION, 20m in tests) that later sends its stop is
 * completed by that stop in the same lifecycle. Its one ledger row, finalized at the stale
 * deadline, is amended once to the stop; its stale_task alert is kept and resolved (the all-clear
 * POSTed too); no orphaned_stop. Also: an abnormal own stop, a new start instead of a stop, the
 * stop arriving before the stale bill was written, continue-as-new while waiting, the horizon,
 * the API-stop path, and a worker killed in the middle of the amendment.
 */
import { pollUntil } from '../../tools/process/poll';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { Worker } from '@temporalio/worker';
import { ZegoApiClient } from '../../src/zego/api-client';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alert-receiver';
import { startFakeZegoApi, type FakeZegoApi } from '../helpers/fake-zego-api';
import {
  ledgerRows,
  startTestService,
  uniqueTask,
  zegoTime,
  type DatabaseKind,
  type TestService,
} from '../helpers/service';
import { transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';
import { killWorker, spawnWorker, type Child } from '../helpers/worker-process';

const FHD_OUTPUT = { StreamId: 'out', Width: 1920, Height: 1080 };
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/**
 * A task started 50 minutes ago (ZEGO's Timestamp): past its 20-minute deadline, so it is declared
 * stale as soon as it is seen, and billed to the deadline: 20 HD minutes, 0.5 CNY.
 */
async function staleTask(svc: TestService, prefix: string) {
  const { appId, taskId } = uniqueTask(prefix);
  const ids = { Appid: appId, TaskId: taskId };
  const startedAt = Number(zegoTime(-3000));
  const reply = await svc.post(transcodeStart({ ...ids, Timestamp: String(startedAt) }));
  expect(reply.status).toBe(200);
  const stale = await svc.waitForTask(
    appId,
    taskId,
    (d) => d.status === 'stale' && d.billing.status === 'finalized' && settled(d.alerts[0]?.delivery),
  );
  expect(stale).toMatchObject({ closed: false, stoppedAt: null });
  expect(stale.billing).toMatchObject({ billableMinutes: 20, totalCost: 0.5 });
  expect(stale.billing.revision).toBeUndefined();
  return { appId, taskId, ids, startedAt, stale, workflowId: reply.json.workflowId as string };
}

function settled(delivery: string | undefined): boolean {
  return delivery !== undefined && delivery !== 'pending';
}

async function dbAlerts(svc: TestService, appId: string, taskId: string) {
  return svc.db.alerts.list({ appId, taskId });
}

/** Polls PostgreSQL until a statement matching `pattern` waits for a lock: an observable point. */
async function waitForBlocked(svc: TestService, pattern: string, timeoutMs = 60_000): Promise<void> {
  const blocked = async () => {
    const { rows } = await svc.db.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`,
      [pattern],
    );
    return Number(rows[0].n) > 0;
  };
  if ((await pollUntil(blocked, Boolean, { timeoutMs, everyMs: 100 })).done) return;
  throw new Error(`no statement like ${pattern} waited for a lock within ${timeoutMs} ms`);
}

async function lockingClient(svc: TestService): Promise<Client> {
  const client = new Client({ connectionString: svc.databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  return client;
}

describe.each<DatabaseKind>(['postgres', 'embedded'])('a stale task’s own stop on %s', (database) => {
  let svc: TestService;
  let hooks: AlertReceiver;

  beforeAll(async () => {
    hooks = await startAlertReceiver();
    svc = await startTestService({ database, env: { ALERT_WEBHOOK_URL: hooks.url } });
  });
  afterAll(async () => {
    await svc?.stop();
    await hooks?.close();
  });

  it('completes the same lifecycle: one ledger row amended to the stop, stale_task resolved, no orphan', async () => {
    const { appId, taskId, ids, startedAt, stale, workflowId } = await staleTask(svc, 'own-stop');
    // The channel ran on: an update to FHD after the stale deadline, then its own stop, delivered
    // three times (once re-signed).
    await svc.post(
      transcodeStart({
        ...ids,
        Sequence: 1,
        Status: 'TranscodeUpdated',
        Timestamp: String(startedAt + 1500),
        Details: { Outputs: [FHD_OUTPUT] },
      }),
    );
    const stop = transcodeStop({ ...ids, Sequence: 2, Timestamp: String(startedAt + 2400) });
    const resigned = transcodeStop({ ...ids, Sequence: 2, Timestamp: String(startedAt + 2400) });
    const replies = await Promise.all([svc.post(stop), svc.post(stop), svc.post(resigned)]);
    // The inbox tells repeats at the door; sent at once, more than one may still read as new.
    const outcomes = replies.map((r) => r.json.outcome);
    expect(outcomes.every((o) => o === 'accepted' || o === 'duplicate')).toBe(true);
    expect(outcomes).toContain('accepted');

    const done = await svc.waitForTask(
      appId,
      taskId,
      (d) => d.billing.revision === 2 && settled(d.alerts[0]?.resolutionDelivery),
    );
    expect(done).toMatchObject({
      lifecycleId: stale.lifecycleId,
      status: 'stopped',
      stopReason: 0,
      startedAt: iso(startedAt),
      stoppedAt: iso(startedAt + 2400),
      durationSeconds: 2400,
      maxSequence: 2,
      billing: {
        status: 'finalized',
        billableSeconds: 2400,
        billableMinutes: 40,
        lines: [
          { tier: 'hd', seconds: 1500, minutes: 25, cost: 0.625 },
          { tier: 'fhd', seconds: 900, minutes: 15, cost: 1.47 },
        ],
        currency: 'CNY',
        totalCost: 2.095,
        finalizedAt: stale.billing.finalizedAt,
        revision: 2,
        amendedAt: expect.any(String),
      },
    });
    expect(done.events.find((e) => e.event === 'transcode_stop')?.deliveries).toBe(3);
    const staleKey = `${stale.lifecycleId}:stale_task`;
    expect(done.alerts).toEqual([
      expect.objectContaining({
        kind: 'stale_task',
        key: staleKey,
        at: iso(startedAt + 1200),
        delivery: 'delivered',
        resolvedAt: expect.any(String),
        resolution: expect.stringMatching(
          /own transcode_stop arrived \(Sequence 2, Timestamp \d+, StopReason 0\)/,
        ),
        resolutionDelivery: 'delivered',
      }),
    ]);

    // One ledger row, amended once, the stale bill kept as what it replaced.
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
    expect(await svc.db.ledger.get(stale.lifecycleId)).toMatchObject({
      stoppedAt: iso(startedAt + 2400),
      totalCost: 2.095,
      revision: 2,
    });
    expect(await svc.db.ledger.amendments(stale.lifecycleId)).toEqual([
      expect.objectContaining({
        revision: 2,
        reason: 'stale_stop',
        previous: expect.objectContaining({
          stoppedAt: iso(startedAt + 1200),
          billableMinutes: 20,
          totalCost: 0.5,
        }),
      }),
    ]);
    const stored = await dbAlerts(svc, appId, taskId);
    expect(stored.map((a) => [a.kind, a.resolution !== null, a.resolutionDelivery])).toEqual([
      ['stale_task', true, 'delivered'],
    ]);
    const posted = hooks.received.filter((r) => r.body.taskId === taskId);
    expect(posted.map((r) => [r.headers['idempotency-key'], r.body.resolved])).toEqual([
      [staleKey, undefined],
      [`${staleKey}:resolved`, true],
    ]);

    // Usage counts the lifecycle once, at its new stoppedAt.
    const day = iso(startedAt + 2400).slice(0, 10);
    const usage = await svc.get(`/usage?appId=${appId}&from=${day}&to=${nextDay(day)}`);
    expect(usage.json.totals).toMatchObject({ minutes: 40, cost: 2.095, lifecycles: 1 });

    // It lingers and closes as any stopped lifecycle; a late repeat of the stop changes nothing.
    const closed = await svc.waitForTask(appId, taskId, (d) => d.closed);
    expect(closed.lifecycleId).toBe(stale.lifecycleId);
    // The inbox knows the repeat at the door; the relay then finds the lifecycle closed.
    const late = await svc.post(stop);
    expect(late.json.outcome).toBe('duplicate');
    const lateId = String(late.json.callbackId);
    for (let i = 0; i < 150; i++) {
      const entry = (await svc.get(`/callbacks/${lateId}`)).json.callback as {
        status: string;
        outcome: string;
      };
      if (entry.status === 'delivered') {
        expect(entry.outcome).toBe('duplicate_after_close');
        break;
      }
      if (i === 149) throw new Error(`late stop ${lateId} not delivered: ${JSON.stringify(entry)}`);
      await sleep(200);
    }
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
    expect((await dbAlerts(svc, appId, taskId)).map((a) => a.kind)).toEqual(['stale_task']);

    // Its history, with the new patch marker, replays on today's code.
    const history = await svc.http.client.workflow.getHandle(workflowId, closed.runId).fetchHistory();
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } }, history),
    ).resolves.toBeUndefined();
  });
});

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + 86_400_000).toISOString().slice(0, 10);
}

describe('a stale task’s own stop: the other paths (PostgreSQL)', () => {
  let svc: TestService;
  let hooks: AlertReceiver;

  beforeAll(async () => {
    hooks = await startAlertReceiver();
    svc = await startTestService({ database: 'postgres', env: { ALERT_WEBHOOK_URL: hooks.url } });
  });
  afterAll(async () => {
    await svc?.stop();
    await hooks?.close();
  });

  it('an abnormal own stop (StopReason 1): aborted, abnormal_stop raised, stale_task resolved, billed to it', async () => {
    const { appId, taskId, ids, startedAt, stale } = await staleTask(svc, 'own-abort');
    await svc.post(
      transcodeStop({ ...ids, Sequence: 1, StopReason: 1, Timestamp: String(startedAt + 1800) }),
    );
    const done = await svc.waitForTask(
      appId,
      taskId,
      (d) =>
        d.billing.revision === 2 &&
        d.alerts.length === 2 &&
        d.alerts.every((a) => settled(a.delivery)) &&
        settled(d.alerts[0].resolutionDelivery),
    );
    expect(done).toMatchObject({ lifecycleId: stale.lifecycleId, status: 'aborted', stopReason: 1 });
    expect(done.billing).toMatchObject({ billableMinutes: 30, totalCost: 0.75 });
    expect(done.alerts.map((a) => [a.kind, a.resolutionDelivery ?? null])).toEqual([
      ['stale_task', 'delivered'],
      ['abnormal_stop', null],
    ]);
    expect(done.alerts[1]).toMatchObject({ at: iso(startedAt + 1800), delivery: 'delivered' });
    expect((await dbAlerts(svc, appId, taskId)).map((a) => [a.kind, a.resolvedAt !== null])).toEqual([
      ['stale_task', true],
      ['abnormal_stop', false],
    ]);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
  });

  it('a new start instead of a stop ends the wait: it opens the next lifecycle, the stale bill stays', async () => {
    const { appId, taskId, ids, stale, workflowId } = await staleTask(svc, 'own-next');
    const reply = await svc.post(transcodeStart({ ...ids, Sequence: 1, Timestamp: zegoTime(-60) }));
    expect(reply.json.outcome).toBe('accepted');
    const next = await svc.waitForTask(appId, taskId, (d) => d.lifecycleId !== stale.lifecycleId);
    expect(next).toMatchObject({ status: 'running', maxSequence: 1, alerts: [] });

    // The stale lifecycle handed the start on (continue-as-new) and stopped waiting.
    const first = await svc.http.client.workflow.getHandle(workflowId, stale.runId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    expect((await dbAlerts(svc, appId, taskId)).map((a) => [a.kind, a.resolvedAt])).toEqual([
      ['stale_task', null],
    ]);
    expect(await svc.db.ledger.amendments(stale.lifecycleId)).toEqual([]);
    expect(await svc.db.ledger.get(stale.lifecycleId)).toMatchObject({ revision: 1, billableMinutes: 20 });
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
  });

  it('a stop arriving before the stale bill was written is billed once, to the stop', async () => {
    // The ledger takes no writes until the test says so: the stale bill's finalization waits.
    const lock = await lockingClient(svc);
    try {
      await lock.query('LOCK TABLE billing_ledger IN EXCLUSIVE MODE');
      const { appId, taskId } = uniqueTask('own-early');
      const ids = { Appid: appId, TaskId: taskId };
      const startedAt = Number(zegoTime(-3000));
      await svc.post(transcodeStart({ ...ids, Timestamp: String(startedAt) }));
      await svc.waitForTask(appId, taskId, (d) => d.status === 'stale');
      await waitForBlocked(svc, '%INSERT INTO billing_ledger%');
      await svc.post(transcodeStop({ ...ids, Sequence: 1, Timestamp: String(startedAt + 2400) }));
      const waiting = await svc.waitForTask(appId, taskId, (d) => d.stoppedAt !== null);
      expect(waiting).toMatchObject({ status: 'stale', billing: { status: 'pending' } });

      await lock.query('ROLLBACK');
      const done = await svc.waitForTask(appId, taskId, (d) => d.billing.revision === 2);
      expect(done).toMatchObject({ status: 'stopped', billing: { billableMinutes: 40, totalCost: 1 } });
      expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
      expect(await svc.db.ledger.amendments(done.lifecycleId)).toEqual([
        expect.objectContaining({ previous: expect.objectContaining({ billableMinutes: 20 }) }),
      ]);
    } finally {
      await lock.end();
    }
  });

  it('keeps waiting across continue-as-new, carrying what it knows', async () => {
    const local = await startTestService({
      database: 'postgres',
      databaseUrl: svc.databaseUrl,
      env: { CONTINUE_AS_NEW_AFTER_EVENTS: '100' },
    });
    try {
      const { appId, taskId, ids, startedAt, stale } = await staleTask(local, 'own-can');
      const start = transcodeStart({ ...ids, Timestamp: String(startedAt) });
      // Each repeat delivery adds history; past 100 events the waiting lifecycle continues as new.
      for (let batch = 0; batch < 4; batch++) {
        await Promise.all(Array.from({ length: 10 }, () => local.post(start)));
      }
      const carried = await local.waitForTask(
        appId,
        taskId,
        (d) => d.runId !== stale.runId && d.events[0].deliveries === 41,
      );
      expect(carried).toMatchObject({ lifecycleId: stale.lifecycleId, status: 'stale', closed: false });

      await local.post(transcodeStop({ ...ids, Sequence: 1, Timestamp: String(startedAt + 1800) }));
      const done = await local.waitForTask(appId, taskId, (d) => d.billing.revision === 2);
      expect(done).toMatchObject({ lifecycleId: stale.lifecycleId, status: 'stopped' });
      expect(done.billing).toMatchObject({ billableMinutes: 30, totalCost: 0.75 });
      expect(done.alerts[0].resolvedAt).toEqual(expect.any(String));
      expect(await ledgerRows(local.db, appId, taskId)).toHaveLength(1);
    } finally {
      await local.stop();
    }
  });

  it('after STALE_STOP_HORIZON it closes as stale; a stop after that is an orphan, as before', async () => {
    const local = await startTestService({
      database: 'postgres',
      databaseUrl: svc.databaseUrl,
      env: { STALE_STOP_HORIZON: '2s' },
    });
    try {
      const { appId, taskId, ids, stale } = await staleTask(local, 'own-horizon');
      const closed = await local.waitForTask(appId, taskId, (d) => d.closed);
      expect(closed).toMatchObject({
        lifecycleId: stale.lifecycleId,
        status: 'stale',
        billing: stale.billing,
      });

      const reply = await local.post(transcodeStop({ ...ids, Sequence: 1 }));
      expect(reply.json.outcome).toBe('accepted');
      const orphan = await local.waitForTask(
        appId,
        taskId,
        (d) => d.status === 'orphaned' && d.billing.status !== 'pending',
      );
      expect(orphan.lifecycleId).not.toBe(stale.lifecycleId);
      expect(orphan.billing.status).toBe('not_billable');
      expect((await dbAlerts(local, appId, taskId)).map((a) => [a.kind, a.resolvedAt])).toEqual([
        ['stale_task', null],
        ['orphaned_stop', null],
      ]);
      expect(await local.db.ledger.get(stale.lifecycleId)).toMatchObject({
        revision: 1,
        billableMinutes: 20,
      });
    } finally {
      await local.stop();
    }
  });
});

describe('a stale task stopped through ZEGO’s API whose stop callback comes late', () => {
  const APP_ID = '1234567890';
  let svc: TestService;
  let zego: FakeZegoApi;

  beforeAll(async () => {
    // No stop callback follows the StopCloudTranscode within STALE_STOP_GRACE: the task goes stale.
    zego = await startFakeZegoApi({ appId: APP_ID, serverSecret: 'test-server-secret' });
    svc = await startTestService({
      database: 'postgres',
      env: { STALE_STOP_GRACE: '3s' },
      zegoApi: new ZegoApiClient({ appId: APP_ID, serverSecret: 'test-server-secret', baseUrl: zego.url }),
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await zego?.close();
  });

  it('the stop ZEGO sends after all completes the stale lifecycle and ends its bill', async () => {
    const taskId = `stale-api-${Date.now()}`;
    const ids = { Appid: APP_ID, TaskId: taskId, UserId: 'owner-1' };
    zego.running.add(taskId);
    // MAX_TASK_DURATION is 20m: this start becomes stale in about 2 s.
    const startedAt = Number(zegoTime(-(20 * 60 - 2)));
    await svc.post(transcodeStart({ ...ids, Timestamp: String(startedAt) }));
    const stale = await svc.waitForTask(
      APP_ID,
      taskId,
      (d) => d.status === 'stale' && d.billing.status === 'finalized',
    );
    expect(stale.alerts[0].message).toMatch(/StopCloudTranscode was requested/);
    const requests = zego.requests.filter(
      (r) => r.action === 'StopCloudTranscode' && (r.body as { TaskId?: string })?.TaskId === taskId,
    );
    expect(requests).toHaveLength(1);
    const { Sequence } = requests[0].body as { Sequence: number };

    await svc.post(transcodeStop({ ...ids, Sequence, Timestamp: String(startedAt + 1260) }));
    const done = await svc.waitForTask(APP_ID, taskId, (d) => d.billing.revision === 2);
    expect(done).toMatchObject({ lifecycleId: stale.lifecycleId, status: 'stopped', maxSequence: Sequence });
    expect(done.billing).toMatchObject({ billableSeconds: 1260, billableMinutes: 21, totalCost: 0.525 });
    expect(done.alerts.map((a) => [a.kind, typeof a.resolvedAt])).toEqual([['stale_task', 'string']]);
    expect(await ledgerRows(svc.db, APP_ID, taskId)).toHaveLength(1);
  });
});

describe('a worker killed in the middle of the amendment', () => {
  let svc: TestService;
  const workers: Child[] = [];

  beforeAll(async () => {
    svc = await startTestService({ database: 'postgres', withoutWorker: true });
  });
  afterAll(async () => {
    await Promise.all(workers.map(killWorker));
    await svc?.stop();
  });

  it('the retry on another worker amends the bill exactly once', async () => {
    workers.push(await spawnWorker(svc.env));
    const { appId, taskId, ids, startedAt, stale } = await staleTask(svc, 'own-kill');
    const lock = await lockingClient(svc);
    try {
      // The amendment's transaction locks the ledger row first: holding it, the test can kill the
      // worker while the amendment is inside its transaction.
      await lock.query('SELECT 1 FROM billing_ledger WHERE lifecycle_id = $1 FOR UPDATE', [
        stale.lifecycleId,
      ]);
      await svc.post(transcodeStop({ ...ids, Sequence: 1, Timestamp: String(startedAt + 2400) }));
      await waitForBlocked(svc, '%FROM billing_ledger WHERE lifecycle_id = $1 FOR UPDATE%');
      await killWorker(workers[0]);
      await lock.query('ROLLBACK');
    } finally {
      await lock.end();
    }
    expect(await svc.db.ledger.get(stale.lifecycleId)).toMatchObject({ revision: 1 });

    // Temporal retries the amendment once the dead worker's attempt times out (30 s).
    workers.push(await spawnWorker(svc.env));
    const done = await svc.waitForTask(appId, taskId, (d) => d.billing.revision === 2, 120_000);
    expect(done).toMatchObject({ status: 'stopped', billing: { billableMinutes: 40, totalCost: 1 } });
    expect(await svc.db.ledger.amendments(stale.lifecycleId)).toHaveLength(1);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
  }, 300_000);
});
