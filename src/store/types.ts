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
  /**
   * A prepared statement's name (PostgreSQL): parsed and planned once per connection, then only
   * bound and executed. One name, one text, for ever. Ignored by PGlite.
   */
  name?: string;
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
  /** ISO time the row was first written. */
  finalizedAt: string;
  lines: BillingLine[];
  /** 1 as finalized; each amendment adds one. */
  revision: number;
  /** ISO time of the latest amendment; null while never amended. */
  amendedAt: string | null;
}

/** What `finalize` writes: the stored record without what the database fills in. */
export type NewBillingRecord = Omit<BillingRecord, 'finalizedAt' | 'revision' | 'amendedAt'>;

/**
 * Why a ledger row was amended; each reason applies at most once per lifecycle:
 * - `stale_stop`: a stale task's own stop ended its bill;
 * - `earlier_timestamp:<n>`: the lifecycle's n-th amendment to earlier-signed originals of
 *   callbacks it had billed from re-signed copies (the workflow counts them).
 */
export type AmendmentReason = 'stale_stop' | `earlier_timestamp:${number}`;

/** The new values of an amended ledger row (everything else stays as finalized). */
export interface BillingAmendment {
  lifecycleId: string;
  reason: AmendmentReason;
  /** The row's new started_at; left as it is when absent. */
  startedAt?: string;
  stoppedAt: string | null;
  billableSeconds: number;
  billableMinutes: number;
  lines: BillingLine[];
  totalCost: number;
}

/** What an amendment replaced: the audit row of `billing_amendments`. */
export interface StoredAmendment {
  lifecycleId: string;
  /** The revision the amendment produced. */
  revision: number;
  reason: AmendmentReason;
  amendedAt: string;
  previous: Pick<
    BillingRecord,
    'startedAt' | 'stoppedAt' | 'billableSeconds' | 'billableMinutes' | 'lines' | 'totalCost'
  >;
}

export type AmendOutcome =
  | { kind: 'amended' | 'already_amended'; record: BillingRecord }
  /** No ledger row yet, or one that is not billable: nothing to amend. */
  | { kind: 'not_found' | 'not_billable' };

export interface BillingLedger {
  /**
   * Writes the lifecycle's billing once. A second call for the same lifecycleId writes nothing
   * and returns the record stored first (so activity retries are harmless).
   */
  finalize(record: NewBillingRecord): Promise<{ record: BillingRecord; inserted: boolean }>;
  /**
   * Replaces the row's stop time, totals and lines in one transaction, keeping the replaced values
   * in `billing_amendments` and bumping `revision`; at most once per (lifecycle, reason): a repeat
   * writes nothing and returns the stored record as `already_amended`.
   */
  amend(amendment: BillingAmendment): Promise<AmendOutcome>;
  amendments(lifecycleId: string): Promise<StoredAmendment[]>;
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

export type AlertDelivery = 'pending' | 'delivered' | 'failed' | 'not_configured';

export interface StoredAlert extends AlertEntry {
  createdAt: string;
  delivery: AlertDelivery;
  deliveredAt: string | null;
  deliveryError: string | null;
  /** ISO time the alert's condition ended; null while unresolved. */
  resolvedAt: string | null;
  /** How it ended, in words. */
  resolution: string | null;
  /** Delivery of the all-clear to the alert webhook; null while unresolved. */
  resolutionDelivery: AlertDelivery | null;
  resolutionDeliveredAt: string | null;
  resolutionDeliveryError: string | null;
}

/** Which POST of an alert a delivery status is about: the alert itself, or its all-clear. */
export type AlertMessage = 'alert' | 'resolution';

export interface AlertLog {
  record(alert: AlertEntry): Promise<{ alert: StoredAlert; inserted: boolean }>;
  get(key: string): Promise<StoredAlert | null>;
  markDelivery(key: string, delivery: AlertDelivery, error?: string, message?: AlertMessage): Promise<void>;
  /**
   * Marks the alert resolved (its all-clear delivery 'pending'). Idempotent: the first resolution
   * wins, later calls change nothing and return `{ resolved: false }`. Throws for an unknown key.
   */
  resolve(key: string, resolution: string, resolvedAt: string): Promise<{ resolved: boolean }>;
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
