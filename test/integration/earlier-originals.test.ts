/**
 * ZEGO re-signs some retries (a new Timestamp and Nonce, the same Event, Sequence and Status). When
 * the later-signed copy is delivered first and the earlier-signed original only after the outcome
 * is decided and billed, the original still says when the event happened: the lifecycle moves the
 * start, the stop or the update's segment back to it and amends its one ledger row, once per
 * amendment, until it closes (LIFECYCLE_LINGER). End to end on the real Temporal dev server and
 * PostgreSQL.
 */
import { ledgerRows, startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import { transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';
import type { LifecycleStateDocument } from '../../workflows/definitions';

const FHD_OUTPUT = { StreamId: 'output-stream', Width: 1920, Height: 1080 };
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
const secondsByTier = (doc: LifecycleStateDocument) =>
  Object.fromEntries((doc.billing.lines ?? []).map((l) => [l.tier, l.seconds]));

describe('an earlier-signed original arriving after the outcome', () => {
  let svc: TestService;
  beforeAll(async () => {
    // Long enough a linger for the originals to come one at a time.
    svc = await startTestService({ database: 'postgres', env: { LIFECYCLE_LINGER: '1m' } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('amends the bill to each original: start, update and stop, one ledger row', async () => {
    const { appId, taskId } = uniqueTask('earlier');
    const ids = { Appid: appId, TaskId: taskId };
    const t = Number(zegoTime(-600));
    const update = (timestamp: number) =>
      transcodeStart({
        ...ids,
        Sequence: 1,
        Status: 'TranscodeUpdated',
        Timestamp: String(timestamp),
        Details: { Input: { StreamId: 'input-stream' }, Outputs: [FHD_OUTPUT] },
      });
    const originals = {
      start: transcodeStart({ ...ids, Timestamp: String(t) }),
      update: update(t + 120),
      stop: transcodeStop({ ...ids, Sequence: 2, Timestamp: String(t + 300) }),
    };
    // The re-signed copies come first, signed 61, 62 and 2 s after their originals.
    for (const copy of [
      transcodeStart({ ...ids, Timestamp: String(t + 61) }),
      update(t + 182),
      transcodeStop({ ...ids, Sequence: 2, Timestamp: String(t + 302) }),
    ]) {
      expect((await svc.post(copy)).status).toBe(200);
    }
    const billed = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    expect(billed).toMatchObject({ status: 'stopped', startedAt: iso(t + 61), stoppedAt: iso(t + 302) });
    expect(secondsByTier(billed)).toEqual({ hd: 121, fhd: 120 });
    expect(billed.billing.revision).toBeUndefined();

    const after: Record<string, LifecycleStateDocument> = {};
    let revision = 1;
    for (const [name, original] of Object.entries(originals)) {
      const reply = await svc.post(original);
      expect(reply).toMatchObject({ status: 200, json: { outcome: 'duplicate' } });
      revision += 1;
      after[name] = await svc.waitForTask(appId, taskId, (d) => d.billing.revision === revision);
    }
    expect(after.start).toMatchObject({ startedAt: iso(t), stoppedAt: iso(t + 302), closed: false });
    expect(secondsByTier(after.start)).toEqual({ hd: 182, fhd: 120 });
    expect((after.update.segments ?? []).map((s) => [s.from, s.until])).toEqual([
      [iso(t), iso(t + 120)],
      [iso(t + 120), iso(t + 302)],
    ]);
    expect(secondsByTier(after.update)).toEqual({ hd: 120, fhd: 182 });
    const done = after.stop;
    expect(done).toMatchObject({ status: 'stopped', startedAt: iso(t), stoppedAt: iso(t + 300) });
    expect(secondsByTier(done)).toEqual({ hd: 120, fhd: 180 });
    expect(done.billing).toMatchObject({ billableSeconds: 300, revision: 4, amendedAt: expect.any(String) });
    expect(done.events.map((e) => [e.sequence, e.timestamp, e.deliveries])).toEqual([
      [0, String(t), 2],
      [1, String(t + 120), 2],
      [2, String(t + 300), 2],
    ]);

    // One row, amended three times; the audit keeps each bill it replaced.
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
    expect(await svc.db.ledger.get(done.lifecycleId)).toMatchObject({
      startedAt: iso(t),
      stoppedAt: iso(t + 300),
      billableSeconds: 300,
      revision: 4,
    });
    const amendments = await svc.db.ledger.amendments(done.lifecycleId);
    expect(
      amendments.map((a) => [a.revision, a.reason, a.previous.startedAt, a.previous.billableSeconds]),
    ).toEqual([
      [2, 'earlier_timestamp:1', iso(t + 61), 241],
      [3, 'earlier_timestamp:2', iso(t), 302],
      [4, 'earlier_timestamp:3', iso(t), 302],
    ]);

    // A later-signed copy after all that changes nothing more.
    await svc.post(transcodeStart({ ...ids, Timestamp: String(t + 5) }));
    const last = await svc.waitForTask(appId, taskId, (d) => d.events[0].deliveries === 3);
    expect(last.billing.revision).toBe(4);
    expect(last.startedAt).toBe(iso(t));
  });

  it('a stale lifecycle waiting for its own stop: the original start comes into the one stale_stop amendment', async () => {
    const { appId, taskId } = uniqueTask('earlier-stale');
    const ids = { Appid: appId, TaskId: taskId };
    // Started 50 minutes ago by ZEGO's clock: stale at once (MAX_TASK_DURATION is 20m in tests).
    const t = Number(zegoTime(-3000));
    await svc.post(transcodeStart({ ...ids, Timestamp: String(t + 30) }));
    const stale = await svc.waitForTask(
      appId,
      taskId,
      (d) => d.status === 'stale' && d.billing.status === 'finalized',
    );
    expect(stale).toMatchObject({ startedAt: iso(t + 30), billing: { billableSeconds: 1200 } });

    await svc.post(transcodeStart({ ...ids, Timestamp: String(t) }));
    await svc.waitForTask(appId, taskId, (d) => d.startedAt === iso(t));
    await svc.post(transcodeStop({ ...ids, Sequence: 1, Timestamp: String(t + 2400) }));
    const done = await svc.waitForTask(appId, taskId, (d) => d.billing.revision === 2);
    expect(done).toMatchObject({ status: 'stopped', startedAt: iso(t), stoppedAt: iso(t + 2400) });
    expect(done.billing.billableSeconds).toBe(2400);
    expect(await svc.db.ledger.get(done.lifecycleId)).toMatchObject({ startedAt: iso(t), revision: 2 });
    expect(
      (await svc.db.ledger.amendments(done.lifecycleId)).map((a) => [a.reason, a.previous.startedAt]),
    ).toEqual([['stale_stop', iso(t + 30)]]);
  });
});
