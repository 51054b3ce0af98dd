/**
 * Billing ledger: one row per lifecycle, finalized once. Exactly-once comes from the primary key,
 * not from a read before the write: `finalize` is a single statement (ledger row and its lines
 * through data-modifying CTEs, hence one transaction) whose ledger INSERT says
 * `ON CONFLICT (lifecycle_id) DO NOTHING`; lines are inserted only for a ledger row this statement
 * inserted. A concurrent finalize of the same lifecycle waits on the uncommitted key, then inserts
 * nothing; every caller then reads the stored record back the same way, so all callers get the
 * same record. Money and seconds are NUMERIC (exact decimals), read back as text.
 *
 * A finalized row may later be amended (a stale task's own stop moves its end; an earlier-signed
 * original of a billed callback moves its start or end): `amend` replaces its start and stop times,
 * totals and lines in one transaction that also writes an audit row of the replaced
 * values to `billing_amendments` and bumps `revision`. The row lock (`FOR UPDATE`) serializes
 * amendments of one lifecycle, and UNIQUE (lifecycle_id, reason) keeps each reason to one
 * amendment: a repeat, concurrent or retried, finds it done and returns the stored record.
 */
import type { BillingLine } from '../zego/billing-types';
import type {
  AmendmentReason,
  AmendOutcome,
  BillingAmendment,
  BillingLedger,
  BillingRecord,
  NewBillingRecord,
  StoredAmendment,
} from './types';
import { isoSql, numericParam, parseJson, timestampParam, toNumber, type SqlClient } from './sql';

const FINALIZE_SQL = `
  WITH ins AS (
    INSERT INTO billing_ledger (lifecycle_id, workflow_id, app_id, task_id, user_id, status, started_at,
                                stopped_at, billable_seconds, billable_minutes, currency, total_cost)
    VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::timestamptz, $9::numeric, $10::bigint, $11, $12::numeric)
    ON CONFLICT (lifecycle_id) DO NOTHING
    RETURNING lifecycle_id, app_id, user_id, stopped_at
  ), lines AS (
    INSERT INTO billing_lines (lifecycle_id, line_no, app_id, user_id, stopped_at, tier, seconds, minutes, cost)
    SELECT ins.lifecycle_id, l.ord, ins.app_id, ins.user_id, ins.stopped_at,
           l.e->>'tier', (l.e->>'seconds')::numeric, (l.e->>'minutes')::bigint, (l.e->>'cost')::numeric
    FROM ins CROSS JOIN jsonb_array_elements($13::jsonb) WITH ORDINALITY AS l(e, ord)
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM lines)::int AS lines`;

const GET_SQL = `
  SELECT l.lifecycle_id, l.workflow_id, l.app_id, l.task_id, l.user_id, l.status,
         ${isoSql('l.started_at')} AS started_at, ${isoSql('l.stopped_at')} AS stopped_at,
         l.billable_seconds::text AS billable_seconds, l.billable_minutes::text AS billable_minutes,
         l.currency, l.total_cost::text AS total_cost, ${isoSql('l.finalized_at')} AS finalized_at,
         l.revision::text AS revision, ${isoSql('l.amended_at')} AS amended_at,
         (SELECT COALESCE(json_agg(json_build_object('tier', b.tier, 'seconds', b.seconds::text,
                                                     'minutes', b.minutes::text, 'cost', b.cost::text)
                                   ORDER BY b.line_no), '[]'::json)::text
          FROM billing_lines b WHERE b.lifecycle_id = l.lifecycle_id) AS lines
  FROM billing_ledger l
  WHERE l.lifecycle_id = $1`;

const LINES_JSON_SQL = `
  SELECT COALESCE(jsonb_agg(jsonb_build_object('tier', tier, 'seconds', seconds, 'minutes', minutes,
                                               'cost', cost) ORDER BY line_no), '[]'::jsonb)
  FROM billing_lines WHERE lifecycle_id = $1`;

const AMEND_STEPS = {
  lock: `SELECT status, revision::text AS revision FROM billing_ledger WHERE lifecycle_id = $1 FOR UPDATE`,
  done: `SELECT 1 FROM billing_amendments WHERE lifecycle_id = $1 AND reason = $2`,
  audit: `
    INSERT INTO billing_amendments (lifecycle_id, revision, reason, previous_started_at, previous_stopped_at,
                                    previous_billable_seconds, previous_billable_minutes,
                                    previous_total_cost, previous_lines)
    SELECT lifecycle_id, revision + 1, $2, started_at, stopped_at, billable_seconds, billable_minutes,
           total_cost, (${LINES_JSON_SQL})
    FROM billing_ledger WHERE lifecycle_id = $1`,
  update: `
    UPDATE billing_ledger SET stopped_at = $2::timestamptz, billable_seconds = $3::numeric,
           billable_minutes = $4::bigint, total_cost = $5::numeric, revision = revision + 1, amended_at = now(),
           started_at = COALESCE($6::timestamptz, started_at)
    WHERE lifecycle_id = $1`,
  deleteLines: `DELETE FROM billing_lines WHERE lifecycle_id = $1`,
  insertLines: `
    INSERT INTO billing_lines (lifecycle_id, line_no, app_id, user_id, stopped_at, tier, seconds, minutes, cost)
    SELECT l.lifecycle_id, e.ord, l.app_id, l.user_id, l.stopped_at,
           e.v->>'tier', (e.v->>'seconds')::numeric, (e.v->>'minutes')::bigint, (e.v->>'cost')::numeric
    FROM billing_ledger l CROSS JOIN jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(v, ord)
    WHERE l.lifecycle_id = $1`,
};

const AMENDMENTS_SQL = `
  SELECT lifecycle_id, revision::text AS revision, reason, ${isoSql('amended_at')} AS amended_at,
         ${isoSql('previous_started_at')} AS previous_started_at,
         ${isoSql('previous_stopped_at')} AS previous_stopped_at,
         previous_billable_seconds::text AS previous_billable_seconds,
         previous_billable_minutes::text AS previous_billable_minutes,
         previous_total_cost::text AS previous_total_cost, previous_lines::text AS previous_lines
  FROM billing_amendments WHERE lifecycle_id = $1 ORDER BY revision`;

const isAmendmentReason = (reason: unknown): reason is AmendmentReason =>
  reason === 'stale_stop' ||
  (typeof reason === 'string' && /^earlier_timestamp:[1-9][0-9]{0,5}$/.test(reason));

interface LedgerRow {
  lifecycle_id: string;
  workflow_id: string;
  app_id: string;
  task_id: string;
  user_id: string;
  status: string;
  started_at: string | null;
  stopped_at: string | null;
  billable_seconds: string;
  billable_minutes: string;
  currency: string;
  total_cost: string;
  finalized_at: string;
  revision: string;
  amended_at: string | null;
  lines: string;
}

interface AmendmentRow {
  lifecycle_id: string;
  revision: string;
  reason: string;
  amended_at: string;
  previous_started_at: string | null;
  previous_stopped_at: string | null;
  previous_billable_seconds: string;
  previous_billable_minutes: string;
  previous_total_cost: string;
  previous_lines: string;
}

const STATUSES = new Set(['finalized', 'not_billable']);

export class SqlBillingLedger implements BillingLedger {
  constructor(private readonly sql: SqlClient) {}

  async finalize(record: NewBillingRecord): Promise<{ record: BillingRecord; inserted: boolean }> {
    const params = finalizeParams(record);
    const { rows } = await this.sql.query<{ inserted: number }>(FINALIZE_SQL, params);
    const inserted = Number(rows[0]?.inserted) === 1;
    const stored = await this.get(record.lifecycleId);
    if (!stored) throw new Error(`billing ledger row ${record.lifecycleId} vanished right after finalize`);
    return { record: stored, inserted };
  }

  async amend(a: BillingAmendment): Promise<AmendOutcome> {
    if (typeof a.lifecycleId !== 'string' || !a.lifecycleId) {
      throw new TypeError('billing amendment lifecycleId must not be empty');
    }
    if (!isAmendmentReason(a.reason))
      throw new TypeError(`unknown billing amendment reason ${String(a.reason)}`);
    const values = [
      timestampParam(a.stoppedAt, 'stoppedAt'),
      numericParam(a.billableSeconds, 'billableSeconds'),
      integerParam(a.billableMinutes, 'billableMinutes'),
      numericParam(a.totalCost, 'totalCost'),
      timestampParam(a.startedAt, 'startedAt'),
    ];
    const lines = JSON.stringify(lineParams(a.lines));
    const outcome = await this.sql.transaction(async (tx) => {
      const locked = await tx.query<{ status: string }>(AMEND_STEPS.lock, [a.lifecycleId]);
      if (locked.rows.length === 0) return 'not_found' as const;
      // After the lock: a concurrent amendment has committed (or never will) by now.
      const done = await tx.query(AMEND_STEPS.done, [a.lifecycleId, a.reason]);
      if (done.rows.length > 0) return 'already_amended' as const;
      if (locked.rows[0].status !== 'finalized') return 'not_billable' as const;
      await tx.query(AMEND_STEPS.audit, [a.lifecycleId, a.reason]);
      await tx.query(AMEND_STEPS.update, [a.lifecycleId, ...values]);
      await tx.query(AMEND_STEPS.deleteLines, [a.lifecycleId]);
      await tx.query(AMEND_STEPS.insertLines, [a.lifecycleId, lines]);
      return 'amended' as const;
    });
    if (outcome === 'not_found' || outcome === 'not_billable') return { kind: outcome };
    const record = await this.get(a.lifecycleId);
    if (!record) throw new Error(`billing ledger row ${a.lifecycleId} vanished right after amend`);
    return { kind: outcome, record };
  }

  async amendments(lifecycleId: string): Promise<StoredAmendment[]> {
    const { rows } = await this.sql.query<AmendmentRow>(AMENDMENTS_SQL, [lifecycleId]);
    return rows.map((row) => ({
      lifecycleId: row.lifecycle_id,
      revision: toNumber(row.revision),
      reason: row.reason as StoredAmendment['reason'],
      amendedAt: row.amended_at,
      previous: {
        startedAt: row.previous_started_at,
        stoppedAt: row.previous_stopped_at,
        billableSeconds: toNumber(row.previous_billable_seconds),
        billableMinutes: toNumber(row.previous_billable_minutes),
        totalCost: toNumber(row.previous_total_cost),
        lines: toLines(row.previous_lines),
      },
    }));
  }

  async get(lifecycleId: string): Promise<BillingRecord | null> {
    const { rows } = await this.sql.query<LedgerRow>(GET_SQL, [lifecycleId]);
    return rows.length === 0 ? null : toRecord(rows[0]);
  }
}

function lineParams(lines: BillingLine[]) {
  if (!Array.isArray(lines)) throw new TypeError('billing record lines must be an array');
  return lines.map((line: BillingLine, i) => {
    if (typeof line?.tier !== 'string' || !line.tier) throw new TypeError(`billing line ${i} needs a tier`);
    return {
      tier: line.tier,
      seconds: numericParam(line.seconds, `billing line ${i} seconds`),
      minutes: integerParam(line.minutes, `billing line ${i} minutes`),
      cost: numericParam(line.cost, `billing line ${i} cost`),
    };
  });
}

function finalizeParams(r: NewBillingRecord): unknown[] {
  for (const field of ['lifecycleId', 'workflowId', 'appId', 'taskId', 'userId', 'currency'] as const) {
    if (typeof r[field] !== 'string') throw new TypeError(`billing record ${field} must be a string`);
  }
  if (!r.lifecycleId) throw new TypeError('billing record lifecycleId must not be empty');
  if (!STATUSES.has(r.status)) throw new TypeError(`billing record status must be finalized or not_billable`);
  const lines = lineParams(r.lines);
  return [
    r.lifecycleId,
    r.workflowId,
    r.appId,
    r.taskId,
    r.userId,
    r.status,
    timestampParam(r.startedAt, 'startedAt'),
    timestampParam(r.stoppedAt, 'stoppedAt'),
    numericParam(r.billableSeconds, 'billableSeconds'),
    integerParam(r.billableMinutes, 'billableMinutes'),
    r.currency,
    numericParam(r.totalCost, 'totalCost'),
    JSON.stringify(lines),
  ];
}

function integerParam(value: number, what: string): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`${what} must be an integer, got ${String(value)}`);
  return String(value);
}

/** Lines as JSON text (numbers as JSON numbers or as text) → BillingLine[]. */
function toLines(json: string): BillingLine[] {
  return (parseJson<Array<Record<string, string | number>>>(json) ?? []).map((l): BillingLine => ({
    tier: l.tier as BillingLine['tier'],
    seconds: toNumber(l.seconds),
    minutes: toNumber(l.minutes),
    cost: toNumber(l.cost),
  }));
}

function toRecord(row: LedgerRow): BillingRecord {
  const lines = toLines(row.lines);
  return {
    lifecycleId: row.lifecycle_id,
    workflowId: row.workflow_id,
    appId: row.app_id,
    taskId: row.task_id,
    userId: row.user_id,
    status: row.status as BillingRecord['status'],
    startedAt: row.started_at,
    stoppedAt: row.stopped_at,
    billableSeconds: toNumber(row.billable_seconds),
    billableMinutes: toNumber(row.billable_minutes),
    lines,
    currency: row.currency as BillingRecord['currency'],
    totalCost: toNumber(row.total_cost),
    finalizedAt: row.finalized_at,
    revision: toNumber(row.revision),
    amendedAt: row.amended_at,
  };
}
