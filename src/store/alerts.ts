/**
 * Alert log: one row per idempotency key, ever (`INSERT … ON CONFLICT (key) DO NOTHING`); a repeat
 * returns the row stored first. Delivery status is updated separately; 'delivered' is final (a late
 * 'failed' from a concurrent or retried attempt does not undo a delivery). An alert may be resolved
 * once (the first resolution wins); its all-clear has a delivery status of its own, kept the same way.
 */
import type { AlertDelivery, AlertEntry, AlertLog, AlertMessage, Sql, StoredAlert } from './types';
import { isoSql, jsonParam, parseJson, timestampParam } from './sql';

const COLUMNS = `key, kind, app_id, task_id, user_id, workflow_id, lifecycle_id, reason,
  ${isoSql('occurred_at')} AS occurred_at, details::text AS details, ${isoSql('created_at')} AS created_at,
  delivery, ${isoSql('delivered_at')} AS delivered_at, delivery_error,
  ${isoSql('resolved_at')} AS resolved_at, resolution, resolution_delivery,
  ${isoSql('resolution_delivered_at')} AS resolution_delivered_at, resolution_delivery_error`;

const INSERT_SQL = `
  INSERT INTO alerts (key, kind, app_id, task_id, user_id, workflow_id, lifecycle_id, reason, occurred_at, details)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz, $10::jsonb)
  ON CONFLICT (key) DO NOTHING
  RETURNING key`;

/** The same rule for the alert's POST and its all-clear's, on their own columns. */
function markSql(prefix: '' | 'resolution_'): string {
  const [delivery, at, error] = [`${prefix}delivery`, `${prefix}delivered_at`, `${prefix}delivery_error`];
  return `
  UPDATE alerts SET
    ${delivery} = CASE WHEN ${delivery} = 'delivered' THEN ${delivery} ELSE $2::text END,
    ${at} = CASE WHEN ${delivery} = 'delivered' THEN ${at}
                 WHEN $2::text = 'delivered' THEN now() END,
    ${error} = CASE WHEN ${delivery} = 'delivered' THEN ${error}
                    WHEN $2::text = 'delivered' THEN NULL ELSE $3::text END
  WHERE key = $1 ${prefix ? 'AND resolved_at IS NOT NULL' : ''}
  RETURNING key`;
}

const MARK_SQL: Record<AlertMessage, string> = { alert: markSql(''), resolution: markSql('resolution_') };

// resolved_at IS NULL: the first resolution wins; the all-clear is then due.
const RESOLVE_SQL = `
  UPDATE alerts SET resolved_at = $3::timestamptz, resolution = $2, resolution_delivery = 'pending'
  WHERE key = $1 AND resolved_at IS NULL
  RETURNING key`;

const DELIVERIES = new Set<AlertDelivery>(['pending', 'delivered', 'failed', 'not_configured']);

interface AlertRow {
  key: string;
  kind: string;
  app_id: string;
  task_id: string;
  user_id: string;
  workflow_id: string;
  lifecycle_id: string;
  reason: string;
  occurred_at: string;
  details: string | null;
  created_at: string;
  delivery: string;
  delivered_at: string | null;
  delivery_error: string | null;
  resolved_at: string | null;
  resolution: string | null;
  resolution_delivery: string | null;
  resolution_delivered_at: string | null;
  resolution_delivery_error: string | null;
}

export class SqlAlertLog implements AlertLog {
  constructor(private readonly sql: Sql) {}

  async record(alert: AlertEntry): Promise<{ alert: StoredAlert; inserted: boolean }> {
    for (const field of [
      'key',
      'kind',
      'appId',
      'taskId',
      'userId',
      'workflowId',
      'lifecycleId',
      'reason',
    ] as const) {
      if (typeof alert[field] !== 'string') throw new TypeError(`alert ${field} must be a string`);
    }
    if (!alert.key) throw new TypeError('alert key must not be empty');
    const occurredAt = timestampParam(alert.occurredAt, 'alert occurredAt');
    if (occurredAt === null) throw new TypeError('alert occurredAt is required');
    const { rows } = await this.sql.query(INSERT_SQL, [
      alert.key,
      alert.kind,
      alert.appId,
      alert.taskId,
      alert.userId,
      alert.workflowId,
      alert.lifecycleId,
      alert.reason,
      occurredAt,
      jsonParam(alert.details),
    ]);
    const stored = await this.get(alert.key);
    if (!stored) throw new Error(`alert ${alert.key} vanished right after it was recorded`);
    return { alert: stored, inserted: rows.length === 1 };
  }

  /** Throws when no alert has this key (or, for the all-clear, none that is resolved). */
  async markDelivery(
    key: string,
    delivery: AlertDelivery,
    error?: string,
    message: AlertMessage = 'alert',
  ): Promise<void> {
    if (!DELIVERIES.has(delivery)) throw new TypeError(`unknown alert delivery status ${String(delivery)}`);
    const sql = MARK_SQL[message];
    if (!sql) throw new TypeError(`unknown alert message ${String(message)}`);
    const { rows } = await this.sql.query(sql, [key, delivery, error ?? null]);
    if (rows.length === 0) {
      throw new Error(`no ${message === 'alert' ? '' : 'resolved '}alert recorded with key ${key}`);
    }
  }

  async resolve(key: string, resolution: string, resolvedAt: string): Promise<{ resolved: boolean }> {
    if (typeof resolution !== 'string' || !resolution)
      throw new TypeError('alert resolution must not be empty');
    const at = timestampParam(resolvedAt, 'alert resolvedAt');
    if (at === null) throw new TypeError('alert resolvedAt is required');
    const { rows } = await this.sql.query(RESOLVE_SQL, [key, resolution, at]);
    if (rows.length === 1) return { resolved: true };
    if (!(await this.get(key))) throw new Error(`no alert recorded with key ${key}`);
    return { resolved: false };
  }

  async list(
    filter: { appId?: string; taskId?: string; kind?: string; limit?: number; newestFirst?: boolean } = {},
  ): Promise<StoredAlert[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [column, value] of [
      ['app_id', filter.appId],
      ['task_id', filter.taskId],
      ['kind', filter.kind],
    ] as const) {
      if (value === undefined) continue;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    }
    const { rows } = await this.sql.query<AlertRow>(
      `SELECT ${COLUMNS} FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ${filter.newestFirst ? 'alerts.occurred_at DESC, alerts.created_at DESC, key DESC' : 'alerts.occurred_at, alerts.created_at, key'}
       ${filter.limit !== undefined ? `LIMIT ${Math.max(1, Math.floor(filter.limit))}` : ''}`,
      params,
    );
    return rows.map(toStoredAlert);
  }

  async get(key: string): Promise<StoredAlert | null> {
    const { rows } = await this.sql.query<AlertRow>(`SELECT ${COLUMNS} FROM alerts WHERE key = $1`, [key]);
    return rows.length === 0 ? null : toStoredAlert(rows[0]);
  }
}

function toStoredAlert(row: AlertRow): StoredAlert {
  const details = parseJson<Record<string, unknown>>(row.details);
  return {
    key: row.key,
    kind: row.kind,
    appId: row.app_id,
    taskId: row.task_id,
    userId: row.user_id,
    workflowId: row.workflow_id,
    lifecycleId: row.lifecycle_id,
    reason: row.reason,
    occurredAt: row.occurred_at,
    ...(details === null ? {} : { details }),
    createdAt: row.created_at,
    delivery: row.delivery as AlertDelivery,
    deliveredAt: row.delivered_at,
    deliveryError: row.delivery_error,
    resolvedAt: row.resolved_at,
    resolution: row.resolution,
    resolutionDelivery: row.resolution_delivery as AlertDelivery | null,
    resolutionDeliveredAt: row.resolution_delivered_at,
    resolutionDeliveryError: row.resolution_delivery_error,
  };
}
