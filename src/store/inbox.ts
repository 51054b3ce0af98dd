/**
 * The callback inbox and log (contract "The callback inbox and log"): every authentic transcode
 * callback is recorded here before it is acknowledged, and the relay (src/inbox/relay.ts) hands
 * it to Temporal from here.
 *
 * - `record` is the request path's only write, ONE statement: it binds the signed (Timestamp,
 *   Nonce) to the body's fingerprint (callback_nonces, the same rules as before the inbox) and, when
 *   the binding allows it, inserts the entry; both commit together or not at all.
 * - `claim` hands a relay replica whole tasks: only a task's head (its lowest pending (Sequence,
 *   id)) can be claimed, and only while no entry of the task is leased, so one task's entries go
 *   in Sequence order and never to two replicas at once. The head row is locked `FOR UPDATE SKIP
 *   LOCKED` while the claim is written, which makes it the task's mutex; the lease (database clock)
 *   outlives the claim and lets another replica take over once it expires (a replica that died).
 * - `release` gives entries back after a transient failure, with a delay (a lease without owner).
 * - Retention: delivered entries are deleted in batches of `PRUNE_BATCH` (short transactions that
 *   skip locked rows; no long lock, nothing to maintain — partitions would need a job creating
 *   them ahead of time for a table this small).
 *
 * Portability (PostgreSQL and PGlite): values are selected as text and parameters passed as
 * strings, numbers or JSON text (src/store/sql.ts).
 */
import { randomUUID } from 'node:crypto';
import type { CallbackSignalPayload } from '../../workflows/definitions';
import { isoSql, parseJson, toNumber } from './sql';
import type { NonceBinding, Sql } from './types';

export type InboxStatus = 'pending' | 'delivered' | 'rejected';
export const INBOX_STATUSES: readonly InboxStatus[] = ['pending', 'delivered', 'rejected'];

/** How the lifecycle took a delivered entry (the gateway's outcome). */
export type DeliveryOutcome = 'accepted' | 'duplicate_after_close';

export interface InboxEntry {
  id: string;
  status: InboxStatus;
  appId: string;
  taskId: string;
  workflowId: string;
  event: string;
  /** ZEGO's `Status` of the callback (TranscodeStarted, …), not the entry's delivery status. */
  callbackStatus: string;
  sequence: number;
  receivedAt: string;
  /** Deliveries tried (each claim is one). */
  attempts: number;
  redeliveries: number;
  deliveredAt: string | null;
  outcome: DeliveryOutcome | null;
  runId: string | null;
  /** Why the last attempt failed, or why Temporal refused it. */
  error: string | null;
  /** Until when a relay holds it (or a retry waits), if it does. */
  leaseUntil: string | null;
  payload: CallbackSignalPayload;
  /** The recording request's trace context (traceparent, …) when tracing was on. */
  traceContext: Record<string, string> | null;
}

export interface RecordInput {
  /** `${Timestamp}:${Nonce}`, as signed. */
  nonceKey: string;
  fingerprint: string;
  /** When the nonce binding lapses (epoch ms). */
  nonceExpiresAtMs: number;
  workflowId: string;
  payload: CallbackSignalPayload;
  /** Give up after this long (the caller's deadline): the answer is then 503. */
  timeoutMs?: number;
  /** The request's trace context, for the relay to continue the trace. */
  traceContext?: Record<string, string>;
  /**
   * Lease the new entry to this relay at once (it will deliver it now), unless another entry of
   * the task is pending or being recorded: then it waits its turn like any other.
   */
  leaseTo?: { owner: string; leaseMs: number };
}

export type RecordResult =
  /** The nonce is bound to another body: nothing recorded. */
  | { binding: 'conflict' }
  /**
   * Recorded as `id`; `duplicate` when the inbox already held the same event of the same task;
   * `leased` when it was leased to `leaseTo.owner` (attempt 1 of it under way).
   */
  | { binding: Exclude<NonceBinding, 'conflict'>; id: string; duplicate: boolean; leased: boolean };

export interface InboxStats {
  pending: number;
  rejected: number;
  /** Seconds since the oldest pending entry was received (database clock); 0 when none. */
  oldestPendingAgeSeconds: number;
  oldestPendingId: string | null;
}

export interface ListFilter {
  status?: InboxStatus;
  appId?: string;
  taskId?: string;
  /** Newest first; default 100. */
  limit?: number;
  /** Only entries older than this id (the next page). */
  beforeId?: string;
}

export interface Delivered {
  id: string;
  outcome: DeliveryOutcome;
  runId?: string;
}

export interface Completed {
  id: string;
  receivedAt: string;
  /** The task has entries still pending (no longer behind a lease): worth a claim at once. */
  waitingBehind: boolean;
}

/** Entries a task's claim takes at most: each is delivered in turn within one lease. */
export const MAX_ENTRIES_PER_TASK_CLAIM = 10;
export const PRUNE_BATCH = 1000;
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

const ENTRY_COLUMNS = `id::text AS id, status, app_id, task_id, workflow_id, event, callback_status,
  sequence::text AS sequence, ${isoSql('received_at')} AS received_at, attempts, redeliveries,
  ${isoSql('delivered_at')} AS delivered_at, outcome, run_id, error,
  ${isoSql('lease_until')} AS lease_until, payload::text AS payload, trace_context::text AS trace_context`;

interface EntryRow {
  id: string;
  status: string;
  app_id: string;
  task_id: string;
  workflow_id: string;
  event: string;
  callback_status: string;
  sequence: string;
  received_at: string;
  attempts: number | string;
  redeliveries: number | string;
  delivered_at: string | null;
  outcome: string | null;
  run_id: string | null;
  error: string | null;
  lease_until: string | null;
  payload: string;
  trace_context: string | null;
}

function toEntry(row: EntryRow): InboxEntry {
  return {
    id: row.id,
    status: row.status as InboxStatus,
    appId: row.app_id,
    taskId: row.task_id,
    workflowId: row.workflow_id,
    event: row.event,
    callbackStatus: row.callback_status,
    sequence: toNumber(row.sequence),
    receivedAt: row.received_at,
    attempts: toNumber(row.attempts),
    redeliveries: toNumber(row.redeliveries),
    deliveredAt: row.delivered_at,
    outcome: row.outcome as DeliveryOutcome | null,
    runId: row.run_id,
    error: row.error,
    leaseUntil: row.lease_until,
    payload: parseJson<CallbackSignalPayload>(row.payload) as CallbackSignalPayload,
    traceContext: parseJson<Record<string, string>>(row.trace_context),
  };
}

const truthy = (v: unknown) => v === true || v === 't';

// $1 key, $2 fingerprint, $3 expires, $4 binding id, $5 now, $6..$14 the entry, $15/$16 the self-lease.
const RECORD_SQL = `
  WITH bind AS (
    INSERT INTO callback_nonces AS n (key, fingerprint, expires_at, binding_id)
    VALUES ($1, $2, $3::timestamptz, $4::text)
    ON CONFLICT (key) DO UPDATE SET
      fingerprint = CASE WHEN n.expires_at <= $5::timestamptz THEN EXCLUDED.fingerprint ELSE n.fingerprint END,
      expires_at  = CASE WHEN n.expires_at <= $5::timestamptz THEN EXCLUDED.expires_at ELSE n.expires_at END,
      binding_id  = CASE WHEN n.expires_at <= $5::timestamptz THEN EXCLUDED.binding_id ELSE n.binding_id END,
      bound_at    = CASE WHEN n.expires_at <= $5::timestamptz THEN EXCLUDED.bound_at ELSE n.bound_at END
    RETURNING n.fingerprint = $2 AS same_body, n.binding_id = $4::text AS bound
  ), self_lease AS (
    -- Only a task with nothing else pending, and not being recorded right now by another statement
    -- (the advisory lock lives until this statement commits): its order stays the claim's.
    SELECT $15::text IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM callback_inbox p WHERE p.workflow_id = $6 AND p.status = 'pending')
      AND pg_try_advisory_xact_lock(hashtextextended($6, 0)) AS leased
  ), entry AS (
    INSERT INTO callback_inbox
      (workflow_id, app_id, task_id, event, sequence, callback_status, payload, nonce_key, received_at,
       trace_context, lease_owner, lease_until, attempts)
    SELECT $6, $7, $8, $9, $10::bigint, $11, $12::jsonb, $1, $13::timestamptz, $14::jsonb,
      CASE WHEN l.leased THEN $15::text END,
      CASE WHEN l.leased THEN now() + $16::integer * interval '1 millisecond' END,
      CASE WHEN l.leased THEN 1 ELSE 0 END
    FROM bind, self_lease l WHERE bind.same_body
    RETURNING id, lease_owner IS NOT NULL AS leased
  )
  SELECT b.same_body, b.bound, (SELECT id::text FROM entry) AS id, (SELECT leased FROM entry) AS leased,
    EXISTS (SELECT 1 FROM callback_inbox c
            WHERE c.workflow_id = $6 AND c.sequence = $10::bigint AND c.event = $9 AND c.callback_status = $11)
      AS seen
  FROM bind b`;

/**
 * The relay's bookkeeping (claims, completions, hand-backs) commits without waiting for the WAL
 * fsync: only the record statement's commit earns a 200. One of these lost in a database crash
 * (the last wal_writer_delay of them, never a record committed after them: WAL is flushed in
 * order) leaves an entry pending with its lease run out, and it is delivered once more, which a
 * lifecycle already takes as a repeat. Waiting for the disk here would double the fsyncs the
 * server asks for per callback, and the acknowledgements queue behind them. `set_config(…, true)`
 * sets it for this statement's own transaction (the commit reads it).
 */
const ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true) AS async_commit)";

// $1 how many tasks, $2 owner, $3 lease ms, $4 only this workflow (or null), $5 entries per task.
const CLAIM_SQL = `
  WITH heads AS (
    SELECT i.id, i.workflow_id FROM callback_inbox i
    WHERE i.status = 'pending'
      AND (i.lease_until IS NULL OR i.lease_until <= now())
      AND ($4::text IS NULL OR i.workflow_id = $4::text)
      AND NOT EXISTS (
        SELECT 1 FROM callback_inbox e
        WHERE e.workflow_id = i.workflow_id AND e.status = 'pending' AND e.id <> i.id
          AND ((e.sequence, e.id) < (i.sequence, i.id) OR e.lease_until > now()))
    ORDER BY i.received_at, i.id
    LIMIT $1
    FOR UPDATE OF i SKIP LOCKED
  ), batch AS (
    SELECT id FROM (
      SELECT p.id, row_number() OVER (PARTITION BY p.workflow_id ORDER BY p.sequence, p.id) AS n
      FROM callback_inbox p JOIN heads h ON p.workflow_id = h.workflow_id
      WHERE p.status = 'pending'
    ) ranked WHERE n <= $5
  ), claimed AS (
    UPDATE callback_inbox c
    SET lease_owner = $2, lease_until = now() + $3::integer * interval '1 millisecond', attempts = attempts + 1
    FROM batch, ${ASYNC_COMMIT} a WHERE c.id = batch.id
    RETURNING c.*
  )
  SELECT ${ENTRY_COLUMNS} FROM claimed ORDER BY workflow_id, sequence, id`;

const COMPLETE_SQL = `
  UPDATE callback_inbox c
  SET status = 'delivered', delivered_at = now(), outcome = d.outcome, run_id = d.run_id, error = NULL,
      lease_owner = NULL, lease_until = NULL
  FROM jsonb_to_recordset($1::jsonb) AS d(id bigint, outcome text, run_id text), ${ASYNC_COMMIT} a
  WHERE c.id = d.id AND c.status <> 'rejected'
  RETURNING c.id::text AS id, ${isoSql('c.received_at')} AS received_at,
    -- Entries of the task still pending besides this batch's (the statement's snapshot still sees
    -- the batch pending): the task's next head, claimable now that this lease is gone.
    EXISTS (SELECT 1 FROM callback_inbox p
            WHERE p.workflow_id = c.workflow_id AND p.status = 'pending'
              AND p.id NOT IN (SELECT (x ->> 'id')::bigint FROM jsonb_array_elements($1::jsonb) x))
      AS waiting_behind`;

const RELEASE_SQL = `
  UPDATE callback_inbox
  SET lease_owner = NULL, lease_until = now() + $3::integer * interval '1 millisecond', error = COALESCE($4, error)
  FROM ${ASYNC_COMMIT} a
  WHERE id = ANY (SELECT jsonb_array_elements_text($1::jsonb)::bigint) AND lease_owner = $2 AND status = 'pending'`;

const REJECT_SQL = `
  UPDATE callback_inbox
  SET status = 'rejected', error = $2, lease_owner = NULL, lease_until = NULL
  WHERE id = $1::bigint AND status = 'pending'
  RETURNING ${ENTRY_COLUMNS}`;

const REDELIVER_SET = `status = 'pending', lease_owner = NULL, lease_until = NULL, error = NULL,
  redeliveries = redeliveries + 1`;

const STATS_SQL = `
  SELECT (SELECT count(*) FROM callback_inbox WHERE status = 'pending')::text AS pending,
         (SELECT count(*) FROM callback_inbox WHERE status = 'rejected')::text AS rejected,
         oldest.id::text AS oldest_id,
         COALESCE(EXTRACT(EPOCH FROM (now() - oldest.received_at)), 0)::text AS oldest_age
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (
    SELECT id, received_at FROM callback_inbox WHERE status = 'pending' ORDER BY received_at, id LIMIT 1
  ) oldest ON true`;

const PRUNE_SQL = `
  WITH gone AS (
    DELETE FROM callback_inbox WHERE id IN (
      SELECT id FROM callback_inbox
      WHERE status = 'delivered' AND delivered_at < now() - $1::bigint * interval '1 millisecond'
      ORDER BY status, id LIMIT $2
      FOR UPDATE SKIP LOCKED)
    RETURNING 1)
  SELECT count(*)::int AS n FROM gone`;

const SWEEP_NONCES_SQL = `
  WITH gone AS (
    DELETE FROM callback_nonces WHERE key IN (
      SELECT key FROM callback_nonces WHERE expires_at <= $1::timestamptz LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING 1)
  SELECT count(*)::int AS n FROM gone`;

export interface CallbackInbox {
  record(input: RecordInput): Promise<RecordResult>;
  /** Leases up to `tasks` tasks' pending entries (each task's in Sequence order) to `owner`. */
  claim(
    owner: string,
    opts: { tasks: number; leaseMs: number; workflowId?: string; perTask?: number },
  ): Promise<InboxEntry[]>;
  /**
   * Marks entries delivered; returns those it changed, with when they were received and whether
   * their task has entries pending behind them (claimable now).
   */
  complete(delivered: readonly Delivered[]): Promise<Completed[]>;
  /**
   * Gives leased entries back; they may be claimed again after `retryInMs`. `error` (why the last
   * attempt failed) replaces the stored one; null keeps it.
   */
  release(owner: string, ids: readonly string[], retryInMs: number, error: string | null): Promise<void>;
  /** Parks an entry Temporal refused for good; null when it was not pending (any more). */
  reject(id: string, error: string): Promise<InboxEntry | null>;
  get(id: string): Promise<InboxEntry | null>;
  list(filter?: ListFilter): Promise<InboxEntry[]>;
  /** Makes one entry pending again (a repeat delivery for the lifecycle); null when unknown. */
  redeliver(id: string): Promise<InboxEntry | null>;
  /** Makes every entry of `status` pending again; returns their ids. */
  redeliverAll(status: Exclude<InboxStatus, 'pending'>): Promise<string[]>;
  stats(): Promise<InboxStats>;
  /** Deletes delivered entries older than `retentionMs`, in batches; returns how many went. */
  prune(retentionMs: number, opts?: { batch?: number; maxBatches?: number }): Promise<number>;
  /** Deletes lapsed nonce bindings (as of `nowMs`), in batches; returns how many went. */
  sweepNonces(nowMs: number, opts?: { batch?: number; maxBatches?: number }): Promise<number>;
}

export class SqlCallbackInbox implements CallbackInbox {
  constructor(
    private readonly sql: Sql,
    private readonly now: () => number = Date.now,
  ) {}

  async record(input: RecordInput): Promise<RecordResult> {
    const { payload } = input;
    const { rows } = await this.sql.query<{
      same_body: boolean | string;
      bound: boolean | string;
      id: string | null;
      leased: boolean | string | null;
      seen: boolean | string;
    }>(
      RECORD_SQL,
      [
        input.nonceKey,
        input.fingerprint,
        new Date(input.nonceExpiresAtMs).toISOString(),
        randomUUID(),
        new Date(this.now()).toISOString(),
        input.workflowId,
        payload.appId,
        payload.taskId,
        payload.event,
        String(payload.sequence),
        payload.status,
        JSON.stringify(payload),
        payload.receivedAt,
        input.traceContext && Object.keys(input.traceContext).length
          ? JSON.stringify(input.traceContext)
          : null,
        input.leaseTo?.owner ?? null,
        Math.ceil(input.leaseTo?.leaseMs ?? 0),
      ],
      { timeoutMs: input.timeoutMs, name: 'zego_inbox_record' },
    );
    const row = rows[0];
    if (!row) throw new Error('inbox record returned no row');
    if (!truthy(row.same_body)) return { binding: 'conflict' };
    if (row.id === null) throw new Error('inbox record bound the nonce but stored no entry');
    return {
      binding: truthy(row.bound) ? 'new' : 'same',
      id: row.id,
      duplicate: truthy(row.seen),
      leased: truthy(row.leased),
    };
  }

  async claim(
    owner: string,
    opts: { tasks: number; leaseMs: number; workflowId?: string; perTask?: number },
  ): Promise<InboxEntry[]> {
    if (opts.tasks < 1) return [];
    const { rows } = await this.sql.query<EntryRow>(
      CLAIM_SQL,
      [
        Math.floor(opts.tasks),
        owner,
        Math.ceil(opts.leaseMs),
        opts.workflowId ?? null,
        opts.perTask ?? MAX_ENTRIES_PER_TASK_CLAIM,
      ],
      { name: 'zego_inbox_claim' },
    );
    return rows.map(toEntry);
  }

  async complete(delivered: readonly Delivered[]): Promise<Completed[]> {
    if (delivered.length === 0) return [];
    const { rows } = await this.sql.query<{ id: string; received_at: string; waiting_behind: unknown }>(
      COMPLETE_SQL,
      [JSON.stringify(delivered.map((d) => ({ id: d.id, outcome: d.outcome, run_id: d.runId ?? null })))],
      { name: 'zego_inbox_complete' },
    );
    return rows.map((r) => ({
      id: r.id,
      receivedAt: r.received_at,
      waitingBehind: truthy(r.waiting_behind),
    }));
  }

  async release(
    owner: string,
    ids: readonly string[],
    retryInMs: number,
    error: string | null,
  ): Promise<void> {
    if (ids.length === 0) return;
    await this.sql.query(RELEASE_SQL, [JSON.stringify(ids), owner, Math.max(0, Math.ceil(retryInMs)), error]);
  }

  async reject(id: string, error: string): Promise<InboxEntry | null> {
    const { rows } = await this.sql.query<EntryRow>(REJECT_SQL, [id, error]);
    return rows[0] ? toEntry(rows[0]) : null;
  }

  async get(id: string): Promise<InboxEntry | null> {
    if (!/^\d{1,19}$/.test(id)) return null;
    const { rows } = await this.sql.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM callback_inbox WHERE id = $1::bigint`,
      [id],
    );
    return rows[0] ? toEntry(rows[0]) : null;
  }

  async list(filter: ListFilter = {}): Promise<InboxEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (filter.status) add((p) => `status = ${p}`, filter.status);
    if (filter.appId !== undefined) add((p) => `app_id = ${p}`, filter.appId);
    if (filter.taskId !== undefined) add((p) => `task_id = ${p}`, filter.taskId);
    if (filter.beforeId !== undefined) add((p) => `id < ${p}::bigint`, filter.beforeId);
    const limit = Math.min(Math.max(1, filter.limit ?? DEFAULT_LIST_LIMIT), MAX_LIST_LIMIT);
    const { rows } = await this.sql.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM callback_inbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT ${limit}`,
      params,
    );
    return rows.map(toEntry);
  }

  async redeliver(id: string): Promise<InboxEntry | null> {
    if (!/^\d{1,19}$/.test(id)) return null;
    // A pending entry stays as it is: it is on its way already.
    const { rows } = await this.sql.query<EntryRow>(
      `UPDATE callback_inbox SET ${REDELIVER_SET} WHERE id = $1::bigint AND status <> 'pending'
       RETURNING ${ENTRY_COLUMNS}`,
      [id],
    );
    return rows[0] ? toEntry(rows[0]) : this.get(id);
  }

  async redeliverAll(status: Exclude<InboxStatus, 'pending'>): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `UPDATE callback_inbox SET ${REDELIVER_SET} WHERE status = $1 RETURNING id::text AS id`,
      [status],
    );
    return rows.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
  }

  async stats(): Promise<InboxStats> {
    const { rows } = await this.sql.query<{
      pending: string;
      rejected: string;
      oldest_id: string | null;
      oldest_age: string;
    }>(STATS_SQL);
    const row = rows[0];
    return {
      pending: toNumber(row.pending),
      rejected: toNumber(row.rejected),
      oldestPendingAgeSeconds: Math.max(0, toNumber(row.oldest_age)),
      oldestPendingId: row.oldest_id,
    };
  }

  async prune(retentionMs: number, opts: { batch?: number; maxBatches?: number } = {}): Promise<number> {
    return this.inBatches(PRUNE_SQL, (batch) => [Math.floor(retentionMs), batch], opts);
  }

  async sweepNonces(nowMs: number, opts: { batch?: number; maxBatches?: number } = {}): Promise<number> {
    return this.inBatches(SWEEP_NONCES_SQL, (batch) => [new Date(nowMs).toISOString(), batch], opts);
  }

  /** Runs a batched DELETE until a batch comes back short (or `maxBatches`), each its own transaction. */
  private async inBatches(
    sql: string,
    params: (batch: number) => unknown[],
    opts: { batch?: number; maxBatches?: number },
  ): Promise<number> {
    const batch = opts.batch ?? PRUNE_BATCH;
    const maxBatches = opts.maxBatches ?? 1000;
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const { rows } = await this.sql.query<{ n: number | string }>(sql, params(batch));
      const n = toNumber(rows[0]?.n ?? 0);
      total += n;
      if (n < batch) break;
    }
    return total;
  }
}
