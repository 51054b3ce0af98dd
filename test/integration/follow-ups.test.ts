/**
 * The extension point (business follow-ups after billing) and stale tasks stopped through ZEGO's
 * API, end to end on the real Temporal dev server and PostgreSQL. ZEGO's API and the webhook
 * receivers are local HTTP servers that behave like them.
 */
import { randomUUID } from 'node:crypto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { defineFollowUp, type FollowUpInput } from '../../activities/follow-ups';
import { ZegoApiClient } from '../../src/zego/api-client';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alert-receiver';
import { startFakeZegoApi, type FakeZegoApi } from '../helpers/fake-zego-api';
import { ledgerRows, startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import { transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';

describe('business follow-ups', () => {
  let svc: TestService;
  let hooks: AlertReceiver;
  let otherTeam: Worker;
  const calls: FollowUpInput[] = [];
  const otherTeamCalls: FollowUpInput[] = [];
  const otherQueue = `other-team-${randomUUID()}`;

  beforeAll(async () => {
    hooks = await startAlertReceiver();
    // Another team's worker, on its own task queue, serving one follow-up activity type.
    otherTeam = await Worker.create({
      connection: await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS }),
      taskQueue: otherQueue,
      activities: {
        addMinutesToInvoice: async (input: FollowUpInput) => {
          otherTeamCalls.push(input);
        },
      },
    });
    void otherTeam.run();
    svc = await startTestService({
      database: 'postgres',
      env: { TASK_FINISHED_WEBHOOK_URL: hooks.url, ALERT_WEBHOOK_URL: hooks.url },
      followUps: [
        defineFollowUp({
          name: 'tellCrm',
          startToCloseTimeout: '10s',
          run: async (input) => {
            calls.push(input);
          },
        }),
        defineFollowUp({
          name: 'alwaysFails',
          startToCloseTimeout: '5s',
          retry: { initialInterval: '100ms', maximumAttempts: 2 },
          run: async () => {
            throw new Error('CRM is down');
          },
        }),
        defineFollowUp({ name: 'addMinutesToInvoice', startToCloseTimeout: '10s', taskQueue: otherQueue }),
      ],
    });
  });
  afterAll(async () => {
    await svc?.stop();
    otherTeam?.shutdown();
    await hooks?.close();
  });

  it('runs every registered follow-up once per lifecycle after billing; a failing one alerts and blocks nothing', async () => {
    const { appId, taskId } = uniqueTask('follow');
    const now = Number(zegoTime());
    const start = transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 600) });
    const stop = transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) });
    await Promise.all([svc.post(start), svc.post(start), svc.post(stop), svc.post(stop)]);

    const doc = await svc.waitForTask(
      appId,
      taskId,
      (d) => d.followUps.length === 4 && d.followUps.every((f) => f.status !== 'pending'),
    );
    expect(doc.billing.status).toBe('finalized');
    expect(doc.cleanup.status).toBe('done');
    expect(doc.followUps).toEqual([
      { name: 'taskFinishedWebhook', status: 'done', attempts: 1, error: null },
      { name: 'tellCrm', status: 'done', attempts: 1, error: null },
      { name: 'alwaysFails', status: 'failed', attempts: 2, error: 'CRM is down' },
      { name: 'addMinutesToInvoice', status: 'done', attempts: 1, error: null },
    ]);
    const mine = calls.filter((c) => c.lifecycle.taskId === taskId);
    expect(mine).toHaveLength(1);
    expect(mine[0].idempotencyKey).toBe(`${doc.lifecycleId}:tellCrm`);
    expect(mine[0].lifecycle.billing).toMatchObject({ status: 'finalized', totalCost: 0.25 });
    expect(otherTeamCalls.filter((c) => c.lifecycle.taskId === taskId)).toHaveLength(1);

    const finished = hooks.received.filter(
      (r) => r.body.event === 'task.finished' && r.body.taskId === taskId,
    );
    expect(finished).toHaveLength(1);
    expect(finished[0].headers['idempotency-key']).toBe(`${doc.lifecycleId}:taskFinishedWebhook`);
    expect(finished[0].body).toMatchObject({
      status: 'stopped',
      durationSeconds: 600,
      billing: { totalCost: 0.25 },
    });

    const closed = await svc.waitForTask(appId, taskId, (d) => d.closed);
    expect(closed.alerts).toEqual([
      expect.objectContaining({ kind: 'follow_up_failed', delivery: 'delivered' }),
    ]);
    expect(calls.filter((c) => c.lifecycle.taskId === taskId)).toHaveLength(1);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
  });
});

describe('stale tasks stopped through ZEGO’s API', () => {
  const APP_ID = '1234567890';
  let svc: TestService;
  let zego: FakeZegoApi;
  let replyWithStop = true;

  beforeAll(async () => {
    zego = await startFakeZegoApi({
      appId: APP_ID,
      serverSecret: 'test-server-secret',
      // ZEGO answers a StopCloudTranscode with a transcode_stop callback, a moment later.
      onStop: (task) => {
        if (!replyWithStop) return;
        setTimeout(() => {
          void svc.post(
            transcodeStop({
              Appid: APP_ID,
              TaskId: task.TaskId,
              UserId: task.UserId,
              Sequence: task.Sequence,
            }),
          );
        }, 100);
      },
    });
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

  it('stops a stale task through StopCloudTranscode; ZEGO’s stop callback completes the lifecycle normally', async () => {
    const taskId = `stale-${randomUUID()}`;
    zego.running.add(taskId);
    // MAX_TASK_DURATION is 20m in tests: this start becomes stale in about 2 s.
    await svc.post(
      transcodeStart({
        Appid: APP_ID,
        TaskId: taskId,
        UserId: 'owner-1',
        Timestamp: zegoTime(-(20 * 60 - 2)),
      }),
    );
    const doc = await svc.waitForTask(APP_ID, taskId, (d) => d.billing.status === 'finalized');
    expect(doc.status).toBe('stopped');
    expect(doc.alerts).toEqual([]);
    const stops = zego.requests.filter(
      (r) => r.action === 'StopCloudTranscode' && (r.body as { TaskId?: string })?.TaskId === taskId,
    );
    expect(stops).toHaveLength(1);
    expect(stops[0].body).toMatchObject({ TaskId: taskId, UserId: 'owner-1', Sequence: 1 });
    expect(zego.running.has(taskId)).toBe(false);
  });

  it('is declared stale with its alert when no stop callback follows within STALE_STOP_GRACE', async () => {
    replyWithStop = false;
    const taskId = `stale-${randomUUID()}`;
    zego.running.add(taskId);
    await svc.post(transcodeStart({ Appid: APP_ID, TaskId: taskId, Timestamp: zegoTime(-(20 * 60 - 2)) }));
    const doc = await svc.waitForTask(
      APP_ID,
      taskId,
      (d) => d.status === 'stale' && d.billing.status === 'finalized',
    );
    expect(doc.alerts.map((a) => a.kind)).toEqual(['stale_task']);
    expect(doc.alerts[0].message).toMatch(/StopCloudTranscode was requested/);
    // It stays open for its own stop (STALE_STOP_HORIZON): stale-stop.test.ts follows that path.
    expect(doc.closed).toBe(false);
    expect(
      zego.requests.filter(
        (r) => r.action === 'StopCloudTranscode' && (r.body as { TaskId?: string })?.TaskId === taskId,
      ),
    ).toHaveLength(1);
  });

  it('is declared stale at once when ZEGO says the task does not exist', async () => {
    const taskId = `stale-${randomUUID()}`; // not in zego.running: StopCloudTranscode answers 110209001
    await svc.post(transcodeStart({ Appid: APP_ID, TaskId: taskId, Timestamp: zegoTime(-(20 * 60 - 2)) }));
    const doc = await svc.waitForTask(
      APP_ID,
      taskId,
      (d) => d.status === 'stale' && d.billing.status === 'finalized',
    );
    expect(doc.alerts.map((a) => a.kind)).toEqual(['stale_task']);
    expect(doc.billing.billableMinutes).toBe(20);
  });
});
