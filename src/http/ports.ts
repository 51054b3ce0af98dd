/**
 * What the HTTP layer needs from the rest of the service. The Temporal-backed implementation is
 * src/temporal/lifecycle-gateway.ts; the HTTP layer knows nothing of Temporal.
 */
import type {
  CallbackSignalPayload,
  LifecycleStateDocument,
  LifecycleStatus,
} from '../../workflows/definitions';
import type { TranscodeCallback } from '../zego/types';

export type HandoffOutcome =
  /** Signal (with start) acknowledged by Temporal: durable. */
  | { kind: 'accepted'; workflowId: string; runId?: string; newLifecycle: boolean }
  /** The task's last lifecycle has closed and this callback belongs to it: nothing to do. */
  | { kind: 'duplicate_after_close'; workflowId: string };

/** Thrown by the gateway when Temporal is unreachable or does not acknowledge in time (→ 503). */
export class TemporalUnavailableError extends Error {
  override name = 'TemporalUnavailableError';
  constructor(
    message: string,
    readonly retryAfterSeconds = 2,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One authentic, validated callback on its way in, with what is computed once for it. */
export interface CallbackToRecord {
  callback: TranscodeCallback;
  fingerprint: string;
  workflowId: string;
  /** ISO time this delivery reached the server (the payload's `receivedAt`). */
  receivedAt: string;
  /** Epoch ms until which the signed (Timestamp, Nonce) stays bound to this body. */
  nonceExpiresAtMs: number;
}

export type RecordOutcome =
  /** The signed (Timestamp, Nonce) already carried another body: nothing recorded (401). */
  | { kind: 'nonce_reused' }
  /** Without the inbox: Temporal refused this callback for good (INVALID_ARGUMENT…): 400, not an outage. */
  | { kind: 'refused'; error: string }
  /** Recorded (inbox) or acknowledged by Temporal (direct): safe. */
  | {
      kind: 'accepted' | 'duplicate' | 'duplicate_after_close';
      workflowId: string;
      /** The inbox entry (inbox mode). */
      entryId?: string;
      runId?: string;
      newLifecycle?: boolean;
    };

/**
 * Where the callback route puts a callback before it answers 200: the inbox (recorded in the
 * database, delivered by the relay), or — a lone server without a database — Temporal itself.
 * Throws when it cannot within `deadlineAt` (→ 503); the route races the deadline too.
 */
export interface CallbackRecorder {
  readonly mode: 'inbox' | 'direct';
  record(cb: CallbackToRecord, deadlineAt: number): Promise<RecordOutcome>;
}

export interface TaskListItem {
  appId: string;
  taskId: string;
  userId: string;
  workflowId: string;
  runId: string;
  status: LifecycleStatus | null;
  executionStatus: string;
  startTime: string;
  closeTime: string | null;
}

export interface LifecycleGateway {
  /**
   * Hands one validated callback durably to the task's lifecycle workflow; `workflowId` is the one
   * the callback route computed for it (computed from the payload when not given).
   */
  deliver(payload: CallbackSignalPayload, workflowId?: string): Promise<HandoffOutcome>;
  /** Latest lifecycle of (appId, taskId); null if Temporal knows none. */
  getTask(appId: string, taskId: string): Promise<LifecycleStateDocument | null>;
  /** AppIds that have a lifecycle of this TaskId (through visibility). */
  appsForTask(taskId: string): Promise<string[]>;
  list(filter: { status?: LifecycleStatus; appId?: string; limit?: number }): Promise<TaskListItem[]>;
  /** True when Temporal answers within a short deadline. */
  isReady(timeoutMs?: number): Promise<boolean>;
}

export interface DependencyState {
  dependency: 'database' | 'temporal' | 'search_attributes';
  ready: boolean;
}

/**
 * What /readyz reports. `ready`: a callback can be taken all the way (inbox: the database records
 * it; direct: Temporal takes it, search attributes in place). `degraded`: ready, but Temporal is
 * away, so callbacks wait in the inbox.
 */
export interface ReadinessReport {
  status: 'ready' | 'degraded' | 'not_ready';
  mode: CallbackRecorder['mode'];
  dependencies: DependencyState[];
}
