/**
 * Correctness at the edges (issue 13), against the real stack:
 *
 *  - identifiers Temporal or PostgreSQL cannot carry (a 5,000-character TaskId, a lone surrogate,
 *    a NUL, a non-numeric Appid) are a 400 naming the field, never a 503 and never recorded;
 *  - a lone server without a database answers a refusal for good from Temporal with 400 (not an
 *    outage), played with a dev server whose payload limit refuses a big start;
 *  - an activity whose values the database refuses for good (SQLSTATE class 22) fails once, not
 *    for ever, and raises `activity_failed`; the lifecycle goes on and is billed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadServerConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startHttpService, type HttpService } from '../../src/main/services';
import { locateTemporalCli } from '../../tools/temporal-cli';
import { temporalConnectConfig } from '../../src/temporal/connection';
import { startDevServer, type DevServer } from '../../tools/temporal-dev-server';
import { lifecycleWorkflowId } from '../../workflows/definitions';
import { ledgerRows, startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';

async function metric(svc: TestService, series: string): Promise<number> {
  const res = await fetch(`${svc.url}/metrics`, {
    headers: { authorization: `Bearer ${svc.env.ADMIN_TOKEN}` },
  });
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('identifiers at the door', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ database: 'postgres' });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it.each([
    ['a 5,000-character TaskId', { TaskId: 'x'.repeat(5000) }, 'TaskId', /at most 229/],
    ['a TaskId with a lone surrogate', { TaskId: 'task-\ud800' }, 'TaskId', /unpaired surrogate/],
    ['a TaskId with a NUL', { TaskId: 'task-\u0000-x' }, 'TaskId', /NUL/],
    ['an Appid holding a colon', { Appid: '515151:9838', TaskId: 'z' }, 'Appid', /numeric AppID/],
    ['a UserId past 255 characters', { UserId: 'u'.repeat(300) }, 'UserId', /at most 255/],
  ])('%s: 400 naming the field, nothing recorded, no outage counted', async (_name, over, field, message) => {
    const unavailableBefore = await metric(
      svc,
      'zego_callbacks_total{event="transcode_start",outcome="unavailable"}',
    );
    const body = transcodeStart({ Appid: uniqueTask().appId, ...over });
    // JSON as ZEGO writes it (a lone surrogate as its \u escape, which is how it can arrive at
    // all), and form fields where the text can travel (percent-encoding has no lone surrogates).
    const surrogate = Object.values(over).some((v) => typeof v === 'string' && /[\ud800-\udfff]/.test(v));
    const sends = [JSON.stringify(body), ...(surrogate ? [] : [body])];
    for (const send of sends) {
      const reply = typeof send === 'string' ? await svc.post(send) : await svc.post(send, 'form');
      expect(reply.status).toBe(400);
      expect(reply.json).toMatchObject({
        ok: false,
        details: [{ field, message: expect.stringMatching(message) }],
      });
    }
    expect(await metric(svc, 'zego_callbacks_total{event="transcode_start",outcome="unavailable"}')).toBe(
      unavailableBefore,
    );
    const log = (await svc.get(`/callbacks?appId=${String(body.Appid)}`)).json.callbacks as unknown[];
    expect(log).toEqual([]);
  });

  it('(Appid 515151, TaskId 9838:z) is a lifecycle of its own, numeric Appids keep their workflow IDs', async () => {
    const now = Number(zegoTime());
    const reply = await svc.post(
      transcodeStart({ Appid: '515151', TaskId: `9838:z-${now}`, Timestamp: String(now - 60) }),
    );
    expect(reply.status).toBe(200);
    expect(reply.json.workflowId).toBe(`zego-transcode:515151:9838:z-${now}`);
    const doc = await svc.waitForTask('515151', `9838:z-${now}`, (d) => d.status === 'running');
    expect(doc).toMatchObject({ appId: '515151', taskId: `9838:z-${now}` });
  });

  it('an activity the database refuses for good fails once and raises activity_failed; the lifecycle goes on', async () => {
    const { appId, taskId } = uniqueTask('db-refuses');
    const now = Number(zegoTime());
    const workflowId = lifecycleWorkflowId(appId, taskId);
    // Past the door (which refuses a NUL): straight to Temporal, as a payload written before the
    // door checked it would be. jsonb cannot hold \u0000: registerActiveTask fails with 22P05.
    await svc.http.gateway.deliver({
      event: 'transcode_start',
      appId,
      taskId,
      userId: 'u1',
      sequence: 0,
      status: 'TranscodeStarted',
      timestamp: String(now - 120),
      nonce: '1',
      receivedAt: new Date().toISOString(),
      input: { StreamId: 'in\u0000put' },
      outputs: [{ StreamId: 'out', Width: 1280, Height: 720 }],
    });
    const alerted = await svc.waitForTask(
      appId,
      taskId,
      (d) => d.alerts.some((a) => a.kind === 'activity_failed'),
      60_000,
    );
    expect(alerted.status).toBe('running');
    const [alert] = await svc.db.alerts.list({ taskId, kind: 'activity_failed' });
    expect(alert).toMatchObject({
      workflowId,
      key: `${alerted.lifecycleId}:activity_failed:registerActiveTask`,
    });
    expect(alert.reason).toMatch(/registerActiveTask failed for good: .*SQLSTATE 22/);
    // Failed once: one failed attempt in the history, no retry loop.
    const { events } = await svc.http.client.workflow.getHandle(workflowId).fetchHistory();
    const failed = (events ?? []).filter((e) => e.activityTaskFailedEventAttributes);
    expect(failed).toHaveLength(1);
    expect(failed[0].activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type).toBe(
      'DatabaseRejected',
    );

    expect(
      (await svc.post(transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) })))
        .status,
    ).toBe(200);
    const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 60_000);
    expect(doc).toMatchObject({ status: 'stopped', billing: { billableMinutes: 2 } });
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
  });
});

describe('without a database, a refusal for good from Temporal is a 400, not an outage', () => {
  let dir: string;
  let temporal: DevServer;
  let server: HttpService;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'zego-refuse-direct-'));
    temporal = await startDevServer({
      cliPath: await locateTemporalCli(),
      headless: true,
      dynamicConfig: { 'limit.blobSize.error': 1024, 'limit.blobSize.warn': 512 },
    });
    server = await startHttpService(
      loadServerConfig({
        ZEGO_CALLBACK_SECRET: 'test-callback-secret',
        ZEGO_CALLBACK_MAX_SKEW: '1h',
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dir,
        TEMPORAL_TASK_QUEUE: 'edges-direct',
      }),
      temporalConnectConfig({ ...process.env, TEMPORAL_ADDRESS: temporal.address }),
      createLogger({ level: 'silent' }),
    );
  });
  afterAll(async () => {
    await server?.close();
    await temporal?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 400 refused_by_temporal with the reason', async () => {
    expect(server.mode).toBe('direct');
    const longUrl = `rtmp://push.example.com/live/${'k'.repeat(900)}`;
    const { body, contentType } = encodeCallback(
      transcodeStart({ Appid: uniqueTask().appId, Details: { Input: { StreamUrl: longUrl } } }),
    );
    const res = await fetch(`${server.url}/zego/callback`, {
      method: 'POST',
      body,
      headers: { 'content-type': contentType },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      ok: false,
      code: 'refused_by_temporal',
      details: [expect.stringMatching(/^INVALID_ARGUMENT: /)],
    });
  });
});
