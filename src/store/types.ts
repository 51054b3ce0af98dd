/**
 * What the service keeps besides Temporal: billing ledger, alert log, active-task registry
 * (worker side) and callback nonce bindings (server side). One implementation on PostgreSQL
 * (`DATABASE_URL`), one embedded (PGlite under `DATA_DIR`) sharing the same SQL and migrations.
 */
import type { BillingLine, BillingResult } from '../zego/billing-types';
import type { TranscodeInput, TranscodeOutput } from '../zego/types';
import type { CallbackInbox } from './inbox';

/** Per-query options; `timeoutMs` gives up waiting (client side) and drops the connection. */
export interface QueryOptions {
  timeoutMs?: number;
}

/** The minimal query surface both pg.Pool and PGlite provide. */
export interface Sql {
  query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    opts?: QueryOptions,
  ): Promise<{ rows: T[] }>;
}

export interface BillingRecord extends BillingResult {
  lifecycleId: string;
  workflowId: string;
  appId: string;
  taskId: string;
  userId: string;
  status: 'finalized' | 'not_billable';
  startedAt: string | null;
  stoppedAt: string | null;
  /** ISO time the first (and only) write happened. */
  finalizedAt: string;
  lines: BillingLine[];
}

export interface BillingLedger {
  /**
   * Writes the lifecycle's billing once. A second call for the same lifecycleId writes nothing
   * and returns the record stored first (so activity retries are harmless).
   */
  finalize(record: Omit<BillingRecord, 'finalizedAt'>): Promise<{ record: BillingRecord; inserted: boolean }>;
  get(lifecycleId: string): Promise<BillingRecord | null>;
}

export interface AlertEntry {
  /** Idempotency key: one row per key, ever. */
  key: string;
  kind: 'abnormal_stop' | 'orphaned_stop' | 'stale_task' | string;
  appId: string;
  taskId: string;
  userId: string;
  workflowId: string;
  lifecycleId: string;
  reason: string;
  /** ISO time of the condition (stop timestamp, orphan deadline, stale deadline). */
  occurredAt: string;
  details?: Record<string, unknown>;
}

export interface StoredAlert extends AlertEntry {
  createdAt: string;
  delivery: 'pending' | 'delivered' | 'failed' | 'not_configured';
  deliveredAt: string | null;
  deliveryError: string | null;
}

export interface AlertLog {
  record(alert: AlertEntry): Promise<{ alert: StoredAlert; inserted: boolean }>;
  get(key: string): Promise<StoredAlert | null>;
  markDelivery(key: string, delivery: StoredAlert['delivery'], error?: string): Promise<void>;
  /** Oldest first, unless `newestFirst`; all of them unless `limit`. */
  list(filter?: {
    appId?: string;
    taskId?: string;
    kind?: string;
    limit?: number;
    newestFirst?: boolean;
  }): Promise<StoredAlert[]>;
}

export interface ActiveTask {
  appId: string;
  taskId: string;
  userId: string;
  workflowId: string;
  lifecycleId: string;
  startedAt: string | null;
  input: TranscodeInput | null;
  outputs: TranscodeOutput[];
  registeredAt: string;
}

export interface ActiveTaskRegistry {
  /** Adds (or refreshes) the row of this lifecycle. */
  register(task: Omit<ActiveTask, 'registeredAt'>): Promise<void>;
  /** Removes the row only if it still belongs to this lifecycle; returns whether a row went. */
  remove(appId: string, taskId: string, lifecycleId: string): Promise<boolean>;
  list(filter?: { appId?: string }): Promise<ActiveTask[]>;
}

/** The service's database: ledger, alerts, registry and the callback inbox over one pool. */
export interface Database {
  readonly kind: 'postgres' | 'embedded';
  readonly sql: Sql;
  readonly ledger: BillingLedger;
  readonly alerts: AlertLog;
  readonly registry: ActiveTaskRegistry;
  readonly inbox: CallbackInbox;
  close(): Promise<void>;
}

export type NonceBinding = 'new' | 'same' | 'conflict';

/**
 * Binds a signed (Timestamp, Nonce) pair to the fingerprint of the first body that carried it,
 * so a captured signature cannot carry another body while an exact retry still passes.
 */
export interface NonceStore {
  bind(key: string, fingerprint: string, expiresAtMs: number): Promise<NonceBinding>;
  close(): Promise<void>;
}
