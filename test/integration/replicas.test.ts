/**
 * Several replicas: two HTTP servers and two workers against one Temporal server and one
 * PostgreSQL. Callbacks, exact retries and tampered replays are spread across both servers.
 */
import { loadServerConfig, loadWorkerConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import {
  startHttpService,
  startWorkerService,
  type HttpService,
  type WorkerService,
} from '../../src/main/services';
import { temporalConnectConfig } from '../../src/temporal/connection';
import { lifecycleWorkflowId } from '../../workflows/definitions';
import { ledgerRows, startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import {
  encodeCallback,
  transcodeStart,
  transcodeStop,
  type ZegoCallbackBody,
} from '../../tools/callbacks/signed-callback';

const FHD = { StreamId: 'out', Width: 1920, Height: 1080 };

describe('two servers and two workers', () => {
  let svc: TestService;
  let server2: HttpService;
  let worker2: WorkerService;

  beforeAll(async () => {
    svc = await startTestService({ database: 'postgres' });
    const logger = createLogger({ level: 'silent' });
    const temporal = temporalConnectConfig(process.env);
    server2 = await startHttpService(loadServerConfig(svc.env), temporal, logger);
    worker2 = await startWorkerService(loadWorkerConfig(svc.env), temporal, logger, {
      workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE,
      identity: 'second-worker',
    });
    void worker2.run();
  });
  afterAll(async () => {
    await worker2?.shutdown();
    await server2?.close();
    await svc?.stop();
  });

  async function send(url: string, body: ZegoCallbackBody): Promise<number> {
    const { body: text, contentType } = encodeCallback(body);
    const res = await fetch(`${url}/zego/callback`, {
      method: 'POST',
      body: text,
      headers: { 'content-type': contentType },
    });
    await res.arrayBuffer();
    return res.status;
  }

  it('spreads callbacks, retries and replays across replicas: correct states, bindings shared, billed once', async () => {
    const servers = [svc.url, server2.url];
    const pick = (i: number) => servers[i % 2];
    const now = Number(zegoTime());
    const tasks = Array.from({ length: 24 }, (_, i) => ({ ...uniqueTask('replica'), abnormal: i % 4 === 0 }));
    const sends: Promise<void>[] = [];
    let replays = 0;

    tasks.forEach(({ appId, taskId, abnormal }, i) => {
      const callbacks = [
        transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 600) }),
        transcodeStart({
          Appid: appId,
          TaskId: taskId,
          Sequence: 1,
          Status: 'TranscodeUpdated',
          Timestamp: String(now - 300),
          Details: { Outputs: [FHD] },
        }),
        transcodeStop({
          Appid: appId,
          TaskId: taskId,
          Sequence: 2,
          StopReason: abnormal ? 1 : 0,
          Timestamp: String(now),
        }),
      ];
      sends.push(
        (async () => {
          for (const [k, cb] of callbacks.entries()) {
            // The original to one replica, ZEGO's exact retry to the other...
            expect(await send(pick(i + k), cb)).toBe(200);
            expect(await send(pick(i + k + 1), cb)).toBe(200);
            // ...and a replay of the captured signature carrying another body: refused by both.
            const tampered = { ...cb, TaskId: `${taskId}-x`, StopReason: 1 };
            expect(await send(pick(i + k + 1), tampered)).toBe(401);
            expect(await send(pick(i + k), tampered)).toBe(401);
            replays += 2;
          }
        })(),
      );
    });
    await Promise.all(sends);
    expect(replays).toBe(tasks.length * 3 * 2);

    for (const { appId, taskId, abnormal } of tasks) {
      const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 60_000);
      expect(doc.status).toBe(abnormal ? 'aborted' : 'stopped');
      expect(doc.events.map((e) => e.deliveries)).toEqual([2, 2, 2]);
      expect(doc.billing.lines).toEqual([
        { tier: 'hd', seconds: 300, minutes: 5, cost: 0.125 },
        { tier: 'fhd', seconds: 300, minutes: 5, cost: 0.49 },
      ]);
      expect(doc.alerts.map((a) => a.kind)).toEqual(abnormal ? ['abnormal_stop'] : []);
      expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
      expect((await svc.get(`/apps/${appId}/tasks/${taskId}-x`)).status).toBe(404);
    }
    // Both workers took part: the identities that started activities, from the histories.
    const identities = new Set<string>();
    for (const { appId, taskId } of tasks) {
      const history = await svc.http.client.workflow
        .getHandle(lifecycleWorkflowId(appId, taskId))
        .fetchHistory();
      for (const event of history.events ?? []) {
        const identity = event.activityTaskStartedEventAttributes?.identity;
        if (identity) identities.add(identity);
      }
    }
    expect(identities).toContain('second-worker');
    expect(identities.size).toBe(2);
  }, 180_000);
});
