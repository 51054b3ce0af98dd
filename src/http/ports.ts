/**
 * What the HTTP layer needs from the rest of the service. The Temporal-backed implementation is
 * src/temporal/lifecycle-gateway.ts; the HTTP layer knows nothing of Temporal.
 */
import type {
  CallbackSignalPayload,
  LifecycleStateDocument,
  LifecycleStatus,
} from '../../workflows/definitions';

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
  ) {
    super(message);
  }
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
  /** Hands one validated callback durably to the task's lifecycle workflow. */
  deliver(payload: CallbackSignalPayload): Promise<HandoffOutcome>;
  /** Latest lifecycle of (appId, taskId); null if Temporal knows none. */
  getTask(appId: string, taskId: string): Promise<LifecycleStateDocument | null>;
  /** AppIds that have a lifecycle of this TaskId (through visibility). */
  appsForTask(taskId: string): Promise<string[]>;
  list(filter: { status?: LifecycleStatus; appId?: string; limit?: number }): Promise<TaskListItem[]>;
  /** True when Temporal answers within a short deadline. */
  isReady(): Promise<boolean>;
}
