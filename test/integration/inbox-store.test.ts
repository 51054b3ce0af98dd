/**
 * The callback inbox (src/store/inbox.ts) against PostgreSQL and the embedded PGlite: recording with
 * the nonce binding in one statement, per-task claims in Sequence order, leases, completion,
 * release with a delay, rejection, redelivery, stats, retention and the nonce sweep. And, on
 * PostgreSQL only, several pools claiming one backlog at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { openDatabase, SqlCallbackInbox, type Database, type RecordInput } from '../../src/store';
import { lifecycleWorkflowId, type CallbackSignalPayload } from '../../workflows/definitions';
import { createTestDatabase } from '../../tools/postgres/test-database';
import { embeddedBackend, postgresBackend } from '../helpers/store-backends';

jest.setTimeout(120_000);

function payload(
  taskId: string,
  over: Partial<CallbackSignalPayload> = {},
  appId = '111111',
): CallbackSignalPayload {
  return {
    event: 'transcode_start',
    appId,
    taskId,
    userId: 'u1',
    sequence: 0,
    status: 'TranscodeStarted',
    timestamp: '1700000000',
    nonce: randomUUID(),
    receivedAt: new Date().toISOString(),
    ...over,
  };
}

function input(p: CallbackSignalPayload, over: Partial<RecordInput> = {}): RecordInput {
  return {
    nonceKey: `${p.timestamp}:${p.nonce}`,
    fingerprint: `fp-${p.event}-${p.sequence}-${p.status}`,
    nonceExpiresAtMs: Date.now() + 600_000,
    workflowId: lifecycleWorkflowId(p.appId, p.taskId),
    payload: p,
    ...over,
  };
}

describe.each([postgresBackend(), embeddedBackend()])('callback inbox ($name)', (backend) => {
  let db: Database;

  beforeAll(async () => {
    await backend.setup();
    db = await backend.open();
  });
  afterAll(async () => {
    await db?.close();
    await backend.teardown();
  });

  it('records an entry and binds its nonce in one statement; repeats and re-signed copies are duplicates', async () => {
    const p = payload(`rec-${randomUUID()}`);
    const first = await db.inbox.record(input(p));
    expect(first).toMatchObject({ binding: 'new', duplicate: false, id: expect.stringMatching(/^\d+$/) });

    // ZEGO's exact retry: the same signed body again.
    const retry = await db.inbox.record(input(p));
    expect(retry).toMatchObject({ binding: 'same', duplicate: true });
    // The same event signed anew (another Timestamp and Nonce).
    const resigned = payload(p.taskId, { timestamp: '1700000003' });
    expect(await db.inbox.record(input(resigned))).toMatchObject({ binding: 'new', duplicate: true });
    // The captured signature carrying another body: nothing recorded.
    const tampered = { ...p, event: 'transcode_stop' as const, stopReason: 1 };
    expect(await db.inbox.record(input(tampered, { fingerprint: 'other' }))).toEqual({ binding: 'conflict' });

    const entries = await db.inbox.list({ taskId: p.taskId });
    expect(entries.map((e) => [e.status, e.event, e.payload.timestamp])).toEqual([
      ['pending', 'transcode_start', '1700000003'],
      ['pending', 'transcode_start', '1700000000'],
      ['pending', 'transcode_start', '1700000000'],
    ]);
    expect(entries[2]).toMatchObject({
      id: first.binding !== 'conflict' ? first.id : '',
      appId: '111111',
      taskId: p.taskId,
      workflowId: lifecycleWorkflowId('111111', p.taskId),
      callbackStatus: 'TranscodeStarted',
      sequence: 0,
      receivedAt: p.receivedAt,
      attempts: 0,
      deliveredAt: null,
      payload: p,
    });
  });

  it('a lapsed nonce binding is replaced: another body may use the key again', async () => {
    const p = payload(`lapse-${randomUUID()}`);
    await db.inbox.record(input(p, { nonceExpiresAtMs: Date.now() - 1 }));
    const other = payload(`lapse-${randomUUID()}`, { nonce: p.nonce });
    expect(await db.inbox.record(input(other, { fingerprint: 'another-body' }))).toMatchObject({
      binding: 'new',
      duplicate: false,
    });
  });

  it('claims a task whole, in Sequence order, and never while one of its entries is leased', async () => {
    const taskId = `order-${randomUUID()}`;
    for (const [sequence, event] of [
      [2, 'transcode_stop'],
      [0, 'transcode_start'],
      [1, 'transcode_start'],
    ] as const)
      await db.inbox.record(input(payload(taskId, { sequence, event })));
    const workflowId = lifecycleWorkflowId('111111', taskId);

    const claimed = await db.inbox.claim('relay-a', { tasks: 10, leaseMs: 60_000, workflowId });
    expect(claimed.map((e) => e.sequence)).toEqual([0, 1, 2]);
    expect(claimed.every((e) => e.attempts === 1 && e.leaseUntil !== null)).toBe(true);
    // Another replica: nothing of this task, not even a newcomer with a lower Sequence.
    await db.inbox.record(
      input(payload(taskId, { sequence: 0, status: 'TranscodeStarted', timestamp: '1' })),
    );
    expect(await db.inbox.claim('relay-b', { tasks: 10, leaseMs: 60_000, workflowId })).toEqual([]);

    // Delivered: the newcomer is the task's head now.
    const done = await db.inbox.complete(
      claimed.map((e) => ({ id: e.id, outcome: 'accepted', runId: 'run-1' })),
    );
    expect(done.map((d) => d.id).sort()).toEqual(claimed.map((e) => e.id).sort());
    // The newcomer waited behind this lease: the relay is told to claim again at once.
    expect(done.every((d) => d.waitingBehind)).toBe(true);
    const next = await db.inbox.claim('relay-b', { tasks: 10, leaseMs: 60_000, workflowId });
    expect(next.map((e) => [e.sequence, e.payload.timestamp])).toEqual([[0, '1']]);
    const delivered = await db.inbox.get(claimed[0].id);
    expect(delivered).toMatchObject({
      status: 'delivered',
      outcome: 'accepted',
      runId: 'run-1',
      leaseUntil: null,
    });
    expect(delivered?.deliveredAt).toEqual(expect.any(String));
  });

  it('takes at most `perTask` entries of a task per claim, the lowest Sequences', async () => {
    const taskId = `cap-${randomUUID()}`;
    for (let sequence = 5; sequence >= 0; sequence--)
      await db.inbox.record(input(payload(taskId, { sequence, status: 'TranscodeUpdated' })));
    const workflowId = lifecycleWorkflowId('111111', taskId);
    const first = await db.inbox.claim('r', { tasks: 1, leaseMs: 60_000, workflowId, perTask: 4 });
    expect(first.map((e) => e.sequence)).toEqual([0, 1, 2, 3]);
    const firstDone = await db.inbox.complete(first.map((e) => ({ id: e.id, outcome: 'accepted' })));
    expect(firstDone.map((d) => d.waitingBehind)).toEqual([true, true, true, true]);
    const rest = await db.inbox.claim('r', { tasks: 1, leaseMs: 60_000, workflowId, perTask: 4 });
    expect(rest.map((e) => e.sequence)).toEqual([4, 5]);
    // The task's last entries: nothing waits behind them (no claim wanted).
    const restDone = await db.inbox.complete(rest.map((e) => ({ id: e.id, outcome: 'accepted' })));
    expect(restDone.map((d) => d.waitingBehind)).toEqual([false, false]);
  });

  it('an expired lease (a replica that died) lets another replica take the task over', async () => {
    const taskId = `lease-${randomUUID()}`;
    await db.inbox.record(input(payload(taskId)));
    const workflowId = lifecycleWorkflowId('111111', taskId);
    expect(await db.inbox.claim('dead', { tasks: 1, leaseMs: 300, workflowId })).toHaveLength(1);
    expect(await db.inbox.claim('alive', { tasks: 1, leaseMs: 60_000, workflowId })).toEqual([]);
    await sleep(450);
    const taken = await db.inbox.claim('alive', { tasks: 1, leaseMs: 60_000, workflowId });
    expect(taken.map((e) => e.attempts)).toEqual([2]);
  });

  it('release gives entries back after a delay; reject parks one with its error; redeliver brings it back', async () => {
    const taskId = `release-${randomUUID()}`;
    await db.inbox.record(input(payload(taskId)));
    const workflowId = lifecycleWorkflowId('111111', taskId);
    const [entry] = await db.inbox.claim('r', { tasks: 1, leaseMs: 60_000, workflowId });
    // Someone else's release changes nothing.
    await db.inbox.release('not-the-owner', [entry.id], 0, 'nope');
    expect((await db.inbox.get(entry.id))?.error).toBeNull();

    await db.inbox.release('r', [entry.id], 400, 'Temporal unavailable');
    expect(await db.inbox.get(entry.id)).toMatchObject({ status: 'pending', error: 'Temporal unavailable' });
    expect(await db.inbox.claim('r', { tasks: 1, leaseMs: 60_000, workflowId })).toEqual([]);
    await sleep(550);
    const [again] = await db.inbox.claim('r', { tasks: 1, leaseMs: 60_000, workflowId });
    expect(again.id).toBe(entry.id);

    const rejected = await db.inbox.reject(entry.id, 'INVALID_ARGUMENT: payload too large');
    expect(rejected).toMatchObject({ status: 'rejected', error: 'INVALID_ARGUMENT: payload too large' });
    expect(await db.inbox.reject(entry.id, 'again')).toBeNull();
    // A late completion of a rejected entry (a concurrent attempt) does not unpark it.
    expect(await db.inbox.complete([{ id: entry.id, outcome: 'accepted' }])).toEqual([]);

    expect(await db.inbox.redeliver(entry.id)).toMatchObject({
      status: 'pending',
      redeliveries: 1,
      error: null,
    });
    // Redelivering a pending entry changes nothing.
    expect(await db.inbox.redeliver(entry.id)).toMatchObject({ status: 'pending', redeliveries: 1 });
    expect(await db.inbox.redeliver('999999999999')).toBeNull();
    expect(await db.inbox.redeliver('not-a-number')).toBeNull();
  });

  it('redeliverAll makes every rejected entry pending again', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const taskId = `rej-${randomUUID()}`;
      await db.inbox.record(input(payload(taskId)));
      const [e] = await db.inbox.claim('r', {
        tasks: 1,
        leaseMs: 60_000,
        workflowId: lifecycleWorkflowId('111111', taskId),
      });
      await db.inbox.reject(e.id, 'refused');
      ids.push(e.id);
    }
    const back = await db.inbox.redeliverAll('rejected');
    expect(back).toEqual(expect.arrayContaining(ids));
    for (const id of ids) expect((await db.inbox.get(id))?.status).toBe('pending');
    expect(await db.inbox.redeliverAll('rejected')).toEqual([]);
  });

  it('lists newest first, by status, app and task, with a limit and a cursor', async () => {
    const appId = String(200000 + Math.floor(Math.random() * 700000));
    const taskId = `list-${randomUUID()}`;
    for (let sequence = 0; sequence < 3; sequence++)
      await db.inbox.record(input(payload(taskId, { sequence }, appId)));
    const all = await db.inbox.list({ appId });
    expect(all.map((e) => e.sequence)).toEqual([2, 1, 0]);
    expect((await db.inbox.list({ appId, limit: 2 })).map((e) => e.sequence)).toEqual([2, 1]);
    expect((await db.inbox.list({ appId, beforeId: all[1].id })).map((e) => e.sequence)).toEqual([0]);
    expect(await db.inbox.list({ appId, taskId: 'other' })).toEqual([]);
    expect((await db.inbox.list({ appId, status: 'pending' })).length).toBe(3);
    expect(await db.inbox.list({ appId, status: 'delivered' })).toEqual([]);
  });

  it('stats: pending, rejected and the oldest pending entry age on the database clock', async () => {
    const before = await db.inbox.stats();
    await db.inbox.record(
      input(payload(`stats-${randomUUID()}`, { receivedAt: new Date(Date.now() - 90_000).toISOString() })),
    );
    const after = await db.inbox.stats();
    expect(after.pending).toBe(before.pending + 1);
    expect(after.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(89);
    expect(after.oldestPendingId).toMatch(/^\d+$/);
  });

  it('prunes delivered entries past the retention in batches, never pending or rejected ones', async () => {
    const taskIds = Array.from({ length: 5 }, () => `prune-${randomUUID()}`);
    const mine = [];
    for (const taskId of taskIds) {
      await db.inbox.record(input(payload(taskId)));
      const workflowId = lifecycleWorkflowId('111111', taskId);
      mine.push(...(await db.inbox.claim('r', { tasks: 1, leaseMs: 60_000, workflowId })));
    }
    expect(mine).toHaveLength(5);
    await db.inbox.complete(mine.slice(0, 4).map((e) => ({ id: e.id, outcome: 'accepted' as const })));
    await db.inbox.reject(mine[4].id, 'refused');
    await sleep(50);
    const pendingBefore = (await db.inbox.stats()).pending;
    // Retention 10 ms: the four delivered go, two per batch.
    expect(await db.inbox.prune(10, { batch: 2 })).toBeGreaterThanOrEqual(4);
    for (const e of mine.slice(0, 4)) expect(await db.inbox.get(e.id)).toBeNull();
    expect((await db.inbox.get(mine[4].id))?.status).toBe('rejected');
    expect((await db.inbox.stats()).pending).toBe(pendingBefore);
    // A long retention keeps what was delivered just now.
    const t = `keep-${randomUUID()}`;
    await db.inbox.record(input(payload(t)));
    const [k] = await db.inbox.claim('r', {
      tasks: 1,
      leaseMs: 60_000,
      workflowId: lifecycleWorkflowId('111111', t),
    });
    await db.inbox.complete([{ id: k.id, outcome: 'accepted' }]);
    await db.inbox.prune(7 * 86_400_000);
    expect((await db.inbox.get(k.id))?.status).toBe('delivered');
  });

  it('sweeps lapsed nonce bindings in batches', async () => {
    const past = Date.now() - 1000;
    for (let i = 0; i < 5; i++) {
      const p = payload(`sweep-${randomUUID()}`);
      await db.inbox.record(input(p, { nonceExpiresAtMs: past }));
    }
    expect(await db.inbox.sweepNonces(Date.now(), { batch: 2 })).toBeGreaterThanOrEqual(5);
    expect(await db.inbox.sweepNonces(Date.now())).toBe(0);
  });
});

describe('callback inbox (PostgreSQL): several replicas claiming one backlog', () => {
  it('never hands one task to two pools, and every entry is claimed once', async () => {
    const testDb = await createTestDatabase();
    const pools = await Promise.all(
      Array.from({ length: 4 }, () => openDatabase({ databaseUrl: testDb.url, dataDir: '/unused' })),
    );
    try {
      const tasks = Array.from({ length: 60 }, () => `backlog-${randomUUID()}`);
      await Promise.all(
        tasks.map(async (taskId, i) => {
          for (let sequence = 0; sequence < 1 + (i % 3); sequence++)
            await pools[i % 4].inbox.record(input(payload(taskId, { sequence })));
        }),
      );
      const total = tasks.reduce((n, _, i) => n + 1 + (i % 3), 0);
      const owners = new Map<string, string>();
      const seen = new Map<string, number>();
      // Every pool claims small batches at once until nothing is left; each claim is delivered at once.
      await Promise.all(
        pools.map(async (db, p) => {
          for (;;) {
            const batch = await db.inbox.claim(`pool-${p}`, { tasks: 3, leaseMs: 60_000 });
            if (batch.length === 0) break;
            for (const e of batch) {
              const owner = owners.get(e.workflowId);
              if (owner && owner !== `pool-${p}`)
                throw new Error(`${e.workflowId} claimed by ${owner} and pool-${p}`);
              owners.set(e.workflowId, `pool-${p}`);
              seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
            }
            // Sequence order within the task, as claimed.
            for (const wf of new Set(batch.map((e) => e.workflowId))) {
              const seqs = batch.filter((e) => e.workflowId === wf).map((e) => e.sequence);
              expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
            }
            await db.inbox.complete(batch.map((e) => ({ id: e.id, outcome: 'accepted' })));
          }
        }),
      );
      expect(seen.size).toBe(total);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(owners.values()).size).toBeGreaterThan(1);
      expect((await pools[0].inbox.stats()).pending).toBe(0);
    } finally {
      await Promise.all(pools.map((db) => db.close()));
      await testDb.drop();
    }
  });
});

describe('callback inbox (PostgreSQL): which commits wait for the WAL fsync', () => {
  // Each statement runs inside a transaction of the test's own, so the setting it leaves for its
  // transaction's commit can be read back before the rollback.
  it('the record waits for it (it earns the 200); claims, completions and hand-backs do not', async () => {
    const testDb = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: testDb.url, dataDir: '/unused' });
    const client = new Client({ connectionString: testDb.url });
    await client.connect();
    const inTransaction = async (step: (inbox: SqlCallbackInbox) => Promise<unknown>): Promise<string> => {
      await client.query('BEGIN');
      try {
        await step(
          new SqlCallbackInbox({
            query: async <T>(text: string, params?: unknown[]) => ({
              rows: (await client.query(text, params)).rows as T[],
            }),
          }),
        );
        const { rows } = await client.query<{ s: string }>(
          "SELECT current_setting('synchronous_commit') AS s",
        );
        return rows[0].s;
      } finally {
        await client.query('ROLLBACK');
      }
    };
    try {
      const p = payload(`sync-${randomUUID()}`);
      const { id } = (await db.inbox.record(input(p))) as { id: string };
      expect(await inTransaction((inbox) => inbox.record(input(payload(`sync-${randomUUID()}`))))).toBe('on');
      expect(await inTransaction((inbox) => inbox.claim('r1', { tasks: 10, leaseMs: 60_000 }))).toBe('off');
      expect(await inTransaction((inbox) => inbox.complete([{ id, outcome: 'accepted' }]))).toBe('off');
      expect(await inTransaction((inbox) => inbox.release('r1', [id], 0, null))).toBe('off');
      // And they still do their work: claimed, handed back, then delivered.
      expect((await db.inbox.claim('r1', { tasks: 10, leaseMs: 60_000 })).map((e) => e.id)).toContain(id);
      await db.inbox.release('r1', [id], 0, 'probe');
      expect((await db.inbox.get(id))?.leaseUntil).not.toBeNull();
      const [done] = await db.inbox.complete([{ id, outcome: 'accepted' }]);
      expect(done.id).toBe(id);
      expect((await db.inbox.get(id))?.status).toBe('delivered');
    } finally {
      await client.end();
      await db.close();
      await testDb.drop();
    }
  });
});
