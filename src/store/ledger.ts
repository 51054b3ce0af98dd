/**
 * Billing ledger: one row per lifecycle, written once. Exactly-once comes from the primary key,
 * not from a read before the write: `finalize` is a single statement (ledger row and its lines
 * through data-modifying CTEs, hence one transaction) whose ledger INSERT says
 * `ON CONFLICT (lifecycle_id) DO NOTHING`; lines are inserted only for a ledger row this statement
 * inserted. A concurrent finalize of the same lifecycle waits on the uncommitted key, then inserts
 * nothing; every caller then reads the stored record back the same way, so all callers get the
 * same record. Money and seconds are NUMERIC (exact decimals), read back as text.
 */
import type { BillingLine } from '../zego/billing-types';
import type { BillingLedger, BillingRecord, Sql } from './types';
import { isoSql, numericParam, parseJson, timestampParam, toNumber } from './sql';

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
         (SELECT COALESCE(json_agg(json_build_object('tier', b.tier, 'seconds', b.seconds::text,
                                                     'minutes', b.minutes::text, 'cost', b.cost::text)
                                   ORDER BY b.line_no), '[]'::json)::text
          FROM billing_lines b WHERE b.lifecycle_id = l.lifecycle_id) AS lines
  FROM billing_ledger l
  WHERE l.lifecycle_id = $1`;

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
  lines: string;
}

const STATUSES = new Set(['finalized', 'not_billable']);

export class SqlBillingLedger implements BillingLedger {
  constructor(private readonly sql: Sql) {}

  async finalize(
    record: Omit<BillingRecord, 'finalizedAt'>,
  ): Promise<{ record: BillingRecord; inserted: boolean }> {
    const params = finalizeParams(record);
    const { rows } = await this.sql.query<{ inserted: number }>(FINALIZE_SQL, params);
    const inserted = Number(rows[0]?.inserted) === 1;
    const stored = await this.get(record.lifecycleId);
    if (!stored) throw new Error(`billing ledger row ${record.lifecycleId} vanished right after finalize`);
    return { record: stored, inserted };
  }

  async get(lifecycleId: string): Promise<BillingRecord | null> {
    const { rows } = await this.sql.query<LedgerRow>(GET_SQL, [lifecycleId]);
    return rows.length === 0 ? null : toRecord(rows[0]);
  }
}

function finalizeParams(r: Omit<BillingRecord, 'finalizedAt'>): unknown[] {
  for (const field of ['lifecycleId', 'workflowId', 'appId', 'taskId', 'userId', 'currency'] as const) {
    if (typeof r[field] !== 'string') throw new TypeError(`billing record ${field} must be a string`);
  }
  if (!r.lifecycleId) throw new TypeError('billing record lifecycleId must not be empty');
  if (!STATUSES.has(r.status)) throw new TypeError(`billing record status must be finalized or not_billable`);
  if (!Array.isArray(r.lines)) throw new TypeError('billing record lines must be an array');
  const lines = r.lines.map((line: BillingLine, i) => {
    if (typeof line?.tier !== 'string' || !line.tier) throw new TypeError(`billing line ${i} needs a tier`);
    return {
      tier: line.tier,
      seconds: numericParam(line.seconds, `billing line ${i} seconds`),
      minutes: integerParam(line.minutes, `billing line ${i} minutes`),
      cost: numericParam(line.cost, `billing line ${i} cost`),
    };
  });
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

function toRecord(row: LedgerRow): BillingRecord {
  const lines = (parseJson<Array<Record<string, string>>>(row.lines) ?? []).map((l): BillingLine => ({
    tier: l.tier as BillingLine['tier'],
    seconds: toNumber(l.seconds),
    minutes: toNumber(l.minutes),
    cost: toNumber(l.cost),
  }));
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
  };
}
