/**
 * The contract's scenarios end to end: signed callbacks over HTTP → Temporal (real dev server) →
 * lifecycle workflow → activities → ledger (real PostgreSQL, and the embedded PGlite).
 */
import { pollUntil } from '../../tools/process/poll';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alert-receiver';
import {
  ledgerRows,
  startTestService,
  uniqueTask,
  zegoTime,
  type DatabaseKind,
  type TestService,
} from '../helpers/service';
import { loadServerConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startHttpService } from '../../src/main/services';
import { temporalConnectConfig } from '../../src/temporal/connection';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';

const FHD_OUTPUT = { StreamId: 'out', Width: 1920, Height: 1080 };

describe.each<DatabaseKind>(['postgres', 'embedded'])('lifecycle scenarios on %s', (database) => {
  let svc: TestService;
  let alerts: AlertReceiver;

  beforeAll(async () => {
    alerts = await startAlertReceiver();
    svc = await startTestService({ database, env: { ALERT_WEBHOOK_URL: alerts.url } });
  });
  afterAll(async () => {
    await svc?.stop();
    await alerts?.close();
  });

  it('normal: start then stop → stopped, billed once by tier, cleaned up', async () => {
    const { appId, taskId } = uniqueTask();
    const now = Number(zegoTime());
    const started = String(now - 600);
    expect(
      (await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: started }))).status,
    ).toBe(200);
    const running = await svc.waitForTask(appId, taskId, (d) => d.status === 'running');
    expect(running.startedAt).toBe(new Date(Number(started) * 1000).toISOString());
    await waitFor(async () => (await svc.db.registry.list({ appId })).some((t) => t.taskId === taskId));

    const stop = await svc.post(
      transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) }),
    );
    expect(stop.status).toBe(200);
    expect(stop.json).toMatchObject({ ok: true, outcome: 'accepted' });
    const doc = await svc.waitForTask(
      appId,
      taskId,
      (d) => d.billing.status === 'finalized' && d.cleanup.status === 'done',
    );
    expect(doc).toMatchObject({
      appId,
      taskId,
      userId: 'user-1',
      status: 'stopped',
      stopReason: 0,
      durationSeconds: 600,
    });
    expect(doc.billing).toMatchObject({
      billableSeconds: 600,
      billableMinutes: 10,
      lines: [{ tier: 'hd', minutes: 10, cost: 0.25 }],
      currency: 'CNY',
      totalCost: 0.25,
    });
    expect(doc.alerts).toEqual([]);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
    expect((await svc.db.registry.list({ appId })).some((t) => t.taskId === taskId)).toBe(false);
  });

  it('abnormal stop → aborted, alert logged, recorded and POSTed once with an idempotency key', async () => {
    const { appId, taskId } = uniqueTask();
    // Both timestamps from one clock reading: a stop signed a second later bills 121 s (3 minutes).
    const now = Number(zegoTime());
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 120) }));
    await svc.post(
      transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, StopReason: 1, Timestamp: String(now) }),
    );
    const doc = await svc.waitForTask(appId, taskId, (d) => d.alerts[0]?.delivery === 'delivered');
    expect(doc.status).toBe('aborted');
    expect(doc.alerts).toEqual([expect.objectContaining({ kind: 'abnormal_stop', delivery: 'delivered' })]);
    expect(doc.billing).toMatchObject({ status: 'finalized', billableMinutes: 2 });
    const posted = alerts.received.filter((a) => a.body.taskId === taskId);
    expect(posted).toHaveLength(1);
    expect(posted[0].body).toMatchObject({
      kind: 'abnormal_stop',
      appId,
      taskId,
      idempotencyKey: doc.alerts[0].key,
    });
    expect(posted[0].headers['idempotency-key']).toBe(doc.alerts[0].key);
    expect(await svc.db.alerts.list({ taskId })).toEqual([
      expect.objectContaining({ kind: 'abnormal_stop' }),
    ]);
  });

  it('out of order: stop before start → awaiting_start, then stopped', async () => {
    const { appId, taskId } = uniqueTask();
    const now = Number(zegoTime());
    await svc.post(transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) }));
    await svc.waitForTask(appId, taskId, (d) => d.status === 'awaiting_start');
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 60) }));
    const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    expect(doc).toMatchObject({ status: 'stopped', durationSeconds: 60 });
    expect(doc.billing.lines).toEqual([expect.objectContaining({ tier: 'hd', minutes: 1 })]);
  });

  it('update segments: TranscodeUpdated changes the outputs and opens a billing segment', async () => {
    const { appId, taskId } = uniqueTask();
    const now = Number(zegoTime());
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 600) }));
    await svc.post(
      transcodeStart({
        Appid: appId,
        TaskId: taskId,
        Sequence: 1,
        Status: 'TranscodeUpdated',
        Timestamp: String(now - 300),
        Details: { Outputs: [FHD_OUTPUT] },
      }),
    );
    await svc.post(transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 2, Timestamp: String(now) }));
    const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    expect(doc.outputs).toEqual([FHD_OUTPUT]);
    expect(doc.billing.lines).toEqual([
      { tier: 'hd', seconds: 300, minutes: 5, cost: 0.125 },
      { tier: 'fhd', seconds: 300, minutes: 5, cost: 0.49 },
    ]);
    expect(doc.billing.totalCost).toBe(0.615);
  });
});

describe('a stop waits for the Sequences missing before it (SEQUENCE_GAP_GRACE)', () => {
  let svc: TestService;
  const GRACE_S = 15;

  beforeAll(async () => {
    svc = await startTestService({ database: 'postgres', env: { SEQUENCE_GAP_GRACE: `${GRACE_S}s` } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('an update ZEGO delivers only after the stop (its earlier attempts refused) is still billed', async () => {
    const { appId, taskId } = uniqueTask();
    const now = Number(zegoTime());
    const ids = { Appid: appId, TaskId: taskId };
    expect((await svc.post(transcodeStart({ ...ids, Timestamp: String(now - 600) }))).status).toBe(200);
    expect((await svc.post(transcodeStop({ ...ids, Sequence: 2, Timestamp: String(now) }))).status).toBe(200);
    // Sequence 1 is missing: nothing is decided or billed yet.
    const waiting = await svc.waitForTask(appId, taskId, (d) => d.stoppedAt !== null);
    expect(waiting).toMatchObject({ status: 'running', billing: { status: 'pending' } });
    const update = transcodeStart({
      ...ids,
      Sequence: 1,
      Status: 'TranscodeUpdated',
      Timestamp: String(now - 300),
      Details: { Outputs: [FHD_OUTPUT] },
    });
    expect((await svc.post(update)).status).toBe(200);
    const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    expect(doc.status).toBe('stopped');
    expect(doc.billing.lines).toEqual([
      { tier: 'hd', seconds: 300, minutes: 5, cost: 0.125 },
      { tier: 'fhd', seconds: 300, minutes: 5, cost: 0.49 },
    ]);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
  });

  it('a gap that never fills delays the bill by the grace only, then bills what arrived', async () => {
    const { appId, taskId } = uniqueTask();
    const now = Number(zegoTime());
    const ids = { Appid: appId, TaskId: taskId };
    await svc.post(transcodeStart({ ...ids, Timestamp: String(now - 120) }));
    const stoppedAt = Date.now();
    await svc.post(transcodeStop({ ...ids, Sequence: 5, Timestamp: String(now) }));
    const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 60_000);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(GRACE_S * 1000);
    expect(doc).toMatchObject({ status: 'stopped', billing: { billableMinutes: 2 } });
  });
});

describe('lifecycle scenarios (PostgreSQL)', () => {
  let svc: TestService;
  let alerts: AlertReceiver;

  beforeAll(async () => {
    alerts = await startAlertReceiver();
    svc = await startTestService({ database: 'postgres', env: { ALERT_WEBHOOK_URL: alerts.url } });
  });
  afterAll(async () => {
    await svc?.stop();
    await alerts?.close();
  });

  it('every callback delivered several times concurrently, some re-signed: counted once, billed once', async () => {
    const { appId, taskId } = uniqueTask();
    const now = Number(zegoTime());
    const start = transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 300) });
    const stop = transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) });
    const resignedStop = transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) });
    const replies = await Promise.all([
      ...Array.from({ length: 4 }, () => svc.post(start)),
      ...Array.from({ length: 4 }, () => svc.post(stop, 'form')),
      svc.post(resignedStop, 'urlencoded-json'),
    ]);
    expect(replies.map((r) => r.status)).toEqual(Array(9).fill(200));
    const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    expect(doc.events.map((e) => [e.event, e.deliveries])).toEqual(
      expect.arrayContaining([
        ['transcode_start', 4],
        ['transcode_stop', 5],
      ]),
    );
    expect(doc.events).toHaveLength(2);
    expect(doc.billing.billableMinutes).toBe(5);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
  });

  it('orphaned stop: no start within ORPHAN_STOP_GRACE → orphaned, alert, not billable', async () => {
    const { appId, taskId } = uniqueTask();
    await svc.post(transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1 }));
    const doc = await svc.waitForTask(
      appId,
      taskId,
      (d) => d.status === 'orphaned' && d.billing.status !== 'pending',
    );
    expect(doc.billing.status).toBe('not_billable');
    expect(doc.alerts.map((a) => a.kind)).toEqual(['orphaned_stop']);
    expect(doc.cleanup.status).toBe('not_needed');
    await waitFor(async () =>
      alerts.received.some((a) => a.body.taskId === taskId && a.body.kind === 'orphaned_stop'),
    );
  });

  it('stale task: running past MAX_TASK_DURATION without a stop → stale, alert, billed to the deadline', async () => {
    const { appId, taskId } = uniqueTask();
    // MAX_TASK_DURATION is 20m: a start 20m less 2s ago becomes stale in about 2 s.
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: zegoTime(-(20 * 60 - 2)) }));
    const doc = await svc.waitForTask(
      appId,
      taskId,
      (d) => d.status === 'stale' && d.billing.status === 'finalized',
    );
    expect(doc.alerts.map((a) => a.kind)).toEqual(['stale_task']);
    expect(doc.billing).toMatchObject({
      billableMinutes: 20,
      lines: [expect.objectContaining({ tier: 'hd', minutes: 20 })],
    });
    expect(doc.cleanup.status).toBe('done');
    // Billed to the deadline until its own stop arrives: it waits open (stale-stop.test.ts).
    expect(doc.closed).toBe(false);
  });

  it('a late duplicate after the lifecycle closed changes nothing and starts nothing', async () => {
    const { appId, taskId } = uniqueTask();
    const start = transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: zegoTime(-60) });
    const stop = transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1 });
    await svc.post(start);
    await svc.post(stop);
    const closed = await svc.waitForTask(appId, taskId, (d) => d.closed);
    const lateIds: string[] = [];
    for (const late of [
      start,
      stop,
      transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: zegoTime(-60) }),
    ]) {
      const reply = await svc.post(late);
      expect(reply.status).toBe(200);
      // The inbox knows the event at the door; the relay finds the lifecycle closed.
      expect(reply.json).toMatchObject({ ok: true, outcome: 'duplicate' });
      lateIds.push(String(reply.json.callbackId));
    }
    await waitFor(async () => {
      const log = await svc.get(`/callbacks?taskId=${encodeURIComponent(taskId)}&status=delivered`);
      const late = (log.json.callbacks as { id: string; outcome: string }[]).filter((e) =>
        lateIds.includes(e.id),
      );
      return late.length === 3 && late.every((e) => e.outcome === 'duplicate_after_close');
    });
    const after = await svc.waitForTask(appId, taskId, () => true);
    expect(after).toEqual(closed);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
  });

  it('TaskId reuse: a start with a higher Sequence after the stop begins a new lifecycle', async () => {
    const { appId, taskId } = uniqueTask();
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: zegoTime(-120) }));
    await svc.post(transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: zegoTime(-60) }));
    const first = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    // Within the linger: the next lifecycle starts as soon as the first one has settled.
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Sequence: 2, Timestamp: zegoTime(-30) }));
    const second = await svc.waitForTask(appId, taskId, (d) => d.lifecycleId !== first.lifecycleId);
    expect(second).toMatchObject({ status: 'running', maxSequence: 2 });
    await svc.post(transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 3 }));
    await svc.waitForTask(appId, taskId, (d) => d.closed && d.lifecycleId === second.lifecycleId);
    // After close: a newer start again opens a third lifecycle, through the closed-lifecycle path.
    const reply = await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Sequence: 4 }));
    expect(reply.json).toMatchObject({ ok: true, outcome: 'accepted' });
    const third = await svc.waitForTask(appId, taskId, (d) => d.maxSequence === 4);
    expect(third.status).toBe('running');
    expect(third.lifecycleId).not.toBe(second.lifecycleId);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(2);
  });

  it('task queries: by app, by TaskId (409 when ambiguous), lists through visibility', async () => {
    const { appId, taskId } = uniqueTask();
    const otherApp = String(Number(appId) + 1);
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, UserId: 'u-query' }));
    await svc.waitForTask(appId, taskId, (d) => d.status === 'running');
    await waitFor(async () => (await svc.get(`/tasks/${taskId}`)).status === 200);
    expect((await svc.get(`/tasks/${taskId}`)).json).toMatchObject({ appId, taskId, userId: 'u-query' });
    await waitFor(async () => {
      const list = await svc.get(`/tasks?status=running&appId=${appId}`);
      return (list.json.tasks as { taskId: string }[]).some((t) => t.taskId === taskId);
    });
    await svc.post(transcodeStart({ Appid: otherApp, TaskId: taskId }));
    await waitFor(async () => (await svc.get(`/tasks/${taskId}`)).status === 409);
    expect((await svc.get(`/tasks/${taskId}`)).json).toMatchObject({
      ok: false,
      apps: [appId, otherApp].sort(),
    });
    expect((await svc.get(`/apps/${appId}/tasks/nope-${taskId}`)).status).toBe(404);
    expect((await svc.get(`/tasks/nope-${taskId}`)).status).toBe(404);
    expect((await svc.get('/tasks?status=flying')).status).toBe(400);
  });

  it('bad input changes nothing: forged, tampered, stale, oversized, malformed and unknown events', async () => {
    const { appId, taskId } = uniqueTask();
    const good = transcodeStart({ Appid: appId, TaskId: taskId });
    const cases: [string, Parameters<TestService['post']>[0], number][] = [
      ['forged', transcodeStart({ Appid: appId, TaskId: taskId }, { secret: 'not-the-secret' }), 401],
      ['no signature', transcodeStart({ Appid: appId, TaskId: taskId, Signature: undefined }), 401],
      [
        'stale timestamp',
        transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: zegoTime(-2 * 3600) }),
        401,
      ],
      ['tampered replay', { ...good, Event: 'transcode_stop', StopReason: 1 }, 401],
      ['malformed', transcodeStart({ Appid: appId, TaskId: taskId, Sequence: 'first' }), 400],
      ['unreadable', '{"Event": "transcode_start", ', 400],
      ['oversized', JSON.stringify({ ...good, Padding: 'x'.repeat(70 * 1024) }), 413],
      ['unknown event', transcodeStart({ Appid: appId, TaskId: taskId, Event: 'mix_start' }), 200],
    ];
    expect((await svc.post(good)).status).toBe(200); // binds the nonce the tampered replay reuses
    for (const [name, body, status] of cases) {
      const reply = await svc.post(body);
      expect([name, reply.status]).toEqual([name, status]);
      if (status !== 200) expect(reply.json.ok).toBe(false);
    }
    const doc = await svc.waitForTask(appId, taskId, (d) => d.status === 'running');
    expect(doc.events).toEqual([expect.objectContaining({ event: 'transcode_start', deliveries: 1 })]);
  });

  it('the nonce binding holds across server replicas sharing DATABASE_URL', async () => {
    const replica = await startHttpService(
      loadServerConfig(svc.env),
      temporalConnectConfig(process.env),
      createLogger({ level: 'silent' }),
    );
    const postTo = async (url: string, body: Record<string, unknown>) => {
      const { body: text, contentType } = encodeCallback(body);
      const res = await fetch(`${url}/zego/callback`, {
        method: 'POST',
        body: text,
        headers: { 'content-type': contentType },
      });
      return res.status;
    };
    try {
      const { appId, taskId } = uniqueTask();
      const good = transcodeStart({ Appid: appId, TaskId: taskId });
      expect(await postTo(svc.url, good)).toBe(200);
      // The captured signature carrying another body, sent to the other replica: refused.
      expect(await postTo(replica.url, { ...good, TaskId: `${taskId}-other` })).toBe(401);
      expect(await postTo(replica.url, { ...good, Event: 'transcode_stop', StopReason: 1 })).toBe(401);
      // ZEGO's exact retry, to either replica: accepted, counted as one more delivery.
      expect(await postTo(replica.url, good)).toBe(200);
      const doc = await svc.waitForTask(appId, taskId, (d) => d.events[0]?.deliveries === 2);
      expect(doc.events).toHaveLength(1);
      expect((await svc.get(`/apps/${appId}/tasks/${taskId}-other`)).status).toBe(404);
    } finally {
      await replica.close();
    }
  });

  it('a task updated thousands of times keeps working across continue-as-new', async () => {
    const updates = 1500;
    const local = await startTestService({
      database: 'postgres',
      databaseUrl: svc.databaseUrl,
      env: { CONTINUE_AS_NEW_AFTER_EVENTS: '200' },
    });
    try {
      const { appId, taskId } = uniqueTask('busy');
      // Within MAX_TASK_DURATION (20m): a 1000 s task, its outputs switching SD ↔ FHD 1500 times.
      const t0 = Number(zegoTime(-1100));
      const at = (i: number) => String(t0 + Math.floor((i * 1000) / (updates + 1)));
      await local.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(t0) }));
      for (let batch = 0; batch < updates; batch += 25) {
        const replies = await Promise.all(
          Array.from({ length: 25 }, (_, i) =>
            local.post(
              transcodeStart({
                Appid: appId,
                TaskId: taskId,
                Sequence: batch + i + 1,
                Status: 'TranscodeUpdated',
                Timestamp: at(batch + i + 1),
                Details: {
                  Outputs: [(batch + i) % 2 ? FHD_OUTPUT : { StreamId: 'out', Width: 640, Height: 360 }],
                },
              }),
            ),
          ),
        );
        expect(replies.every((r) => r.status === 200)).toBe(true);
      }
      await local.post(
        transcodeStop({ Appid: appId, TaskId: taskId, Sequence: updates + 1, Timestamp: String(t0 + 1000) }),
      );
      const doc = await local.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 120_000);
      expect(doc.status).toBe('stopped');
      expect(doc.events).toHaveLength(500); // the most recent 500 are listed, the rest counted
      expect(doc.events.length + doc.eventsOmitted).toBe(updates + 2);
      expect(doc.runId).not.toBe(doc.lifecycleId.split(':').pop()); // it did continue as new
      expect(doc.billing.billableSeconds).toBe(1000);
      // Update 1 shares the start's second, so the start's HD segment lasts 0 s.
      expect(doc.billing.lines?.map((l) => l.tier)).toEqual(['sd', 'fhd']);
      expect(await ledgerRows(local.db, appId, taskId)).toHaveLength(1);
    } finally {
      await local.stop();
    }
  }, 300_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  if (!(await pollUntil(check, Boolean, { timeoutMs, everyMs: 200 })).done)
    throw new Error('condition not met in time');
}
