/**
 * Names shared by the lifecycle workflow and its clients (HTTP server, CLI, tests).
 * Pure: safe to import from workflow code and from Node alike.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type Duration,
  type RetryPolicy,
} from '@temporalio/common';
import type { TranscodeCallback, TranscodeInput, TranscodeOutput } from '../src/zego/types';
import type { BillingLine } from '../src/zego/billing-types';

export const LIFECYCLE_WORKFLOW_TYPE = 'transcodeLifecycle';
export const WORKFLOW_ID_PREFIX = 'zego-transcode';

/** One workflow ID per (Appid, TaskId); a new lifecycle of the same task is a new run of it. */
export function lifecycleWorkflowId(appId: string, taskId: string): string {
  return `${WORKFLOW_ID_PREFIX}:${appId}:${taskId}`;
}

/** Custom search attributes; the worker registers them at start-up, the workflow keeps them current. */
export const searchAttributes = {
  appId: defineSearchAttributeKey('ZegoAppId', SearchAttributeType.KEYWORD),
  taskId: defineSearchAttributeKey('ZegoTaskId', SearchAttributeType.KEYWORD),
  userId: defineSearchAttributeKey('ZegoUserId', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('ZegoTaskStatus', SearchAttributeType.KEYWORD),
} as const;

export type LifecycleStatus = 'awaiting_start' | 'running' | 'stopped' | 'aborted' | 'orphaned' | 'stale';
export const LIFECYCLE_STATUSES: readonly LifecycleStatus[] = [
  'awaiting_start',
  'running',
  'stopped',
  'aborted',
  'orphaned',
  'stale',
];

export type AlertKind =
  | 'abnormal_stop'
  | 'orphaned_stop'
  | 'stale_task'
  | 'follow_up_failed'
  /** An activity failed for good (e.g. the database refused its values): its effect is missing. */
  | 'activity_failed';

/** What the HTTP server signals: the validated callback plus when this delivery reached us. */
export interface CallbackSignalPayload extends TranscodeCallback {
  /** ISO time the HTTP server received this delivery. */
  receivedAt: string;
}

/** SEQUENCE_GAP_GRACE's default: ZEGO's retries of a callback span ~62 s plus request durations. */
export const DEFAULT_SEQUENCE_GAP_GRACE_MS = 90_000;

/**
 * STALE_STOP_HORIZON's default: a week covers a channel stopped at the end of a weekly schedule
 * and a stop held back over a long weekend, while the lifecycle still closes in bounded time (and
 * within the week CALLBACK_RETENTION keeps the callbacks for reconciliation).
 */
export const DEFAULT_STALE_STOP_HORIZON_MS = 7 * 24 * 3_600_000;

export interface LifecycleSettings {
  lingerMs: number;
  orphanGraceMs: number;
  maxTaskDurationMs: number;
  /** Continue-as-new once this many history events have accumulated (Temporal also suggests it). */
  continueAsNewAfterEvents: number;
  /** After a stale task was stopped through ZEGO's API: how long to wait for ZEGO's stop callback. */
  staleStopGraceMs: number;
  /**
   * How long a stop waits for callbacks missing between its start's Sequence and its own before
   * the outcome is decided. Absent from lifecycles started by a server older than the setting.
   */
  sequenceGapGraceMs?: number;
  /**
   * How long a stale lifecycle stays open for the task's own stop, which then ends its bill; 0: it
   * closes after the linger as any finished lifecycle. Absent from lifecycles started by a server
   * older than the setting (they get the default).
   */
  staleStopHorizonMs?: number;
}

export interface EventRecord {
  event: TranscodeCallback['event'];
  status: string;
  sequence: number;
  timestamp: string;
  receivedAt: string;
  deliveries: number;
  stopReason?: number;
}

export interface AlertRecord {
  kind: AlertKind;
  at: string;
  message: string;
  /** Idempotency key shared by the ledger row and the webhook POST. */
  key: string;
  delivery?: AlertDeliveryStatus;
  /** Set once the alert's condition ended (a stale task's own stop arrived): when, and how. */
  resolvedAt?: string;
  resolution?: string;
  /** Delivery of the all-clear to the alert webhook. */
  resolutionDelivery?: AlertDeliveryStatus;
}

export type AlertDeliveryStatus = 'pending' | 'delivered' | 'failed' | 'not_configured';

export interface BillingSegmentRecord {
  from: string | null;
  until: string | null;
  /** The Sequence of the callback that opened it. */
  sequence: number;
  outputs: TranscodeOutput[];
}

export interface BillingDocument {
  status: 'pending' | 'finalized' | 'not_billable';
  billableSeconds?: number;
  billableMinutes?: number;
  lines?: BillingLine[];
  currency?: 'CNY';
  totalCost?: number;
  finalizedAt?: string;
  /** Only on an amended bill (a stale task's own stop moved its end): 2, and when it was amended. */
  revision?: number;
  amendedAt?: string;
}

/**
 * A business follow-up as the workflow sees it: an activity type run after billing with its own
 * timeout and retry policy, on this worker's task queue or another team's (any SDK language).
 */
export interface FollowUpSpec {
  /** Activity type name, unique among follow-ups and the lifecycle's own activities. */
  name: string;
  startToCloseTimeout: Duration;
  /** Default: 5 attempts, exponential backoff from 1 s. */
  retry?: RetryPolicy;
  /** Task queue of the worker that serves it; default the lifecycle's own. */
  taskQueue?: string;
}

/** What every follow-up activity receives. */
export interface FollowUpInput {
  /** The lifecycle's state document after billing (status, times, billing, alerts). */
  lifecycle: LifecycleStateDocument;
  /** Stable per (lifecycle, follow-up): receivers drop repeats with it. */
  idempotencyKey: string;
}

export interface FollowUpRecord {
  name: string;
  status: 'pending' | 'done' | 'failed';
  /** Attempts Temporal made (as far as known: reported by the activity, or the retry limit). */
  attempts: number;
  error: string | null;
}

/** The contract's state document, returned by the `state` query and as the workflow result. */
export interface LifecycleStateDocument {
  appId: string;
  taskId: string;
  userId: string;
  workflowId: string;
  runId: string;
  /** Stable across continue-as-new; keys the ledger rows of this lifecycle. */
  lifecycleId: string;
  status: LifecycleStatus;
  startedAt: string | null;
  stoppedAt: string | null;
  durationSeconds: number | null;
  stopReason: number | null;
  input: TranscodeInput | null;
  outputs: TranscodeOutput[];
  /** Distinct callbacks with their delivery counts: the most recent 500 (updates dropped first). */
  events: EventRecord[];
  /** Distinct callbacks not listed in `events` (only tasks updated hundreds of times have any). */
  eventsOmitted: number;
  billing: BillingDocument;
  /**
   * Billing segments: from each start or output-changing update until the next one or the end of
   * billable time (null while running); outputs reduced to what decides their tier. Absent from
   * documents of lifecycles that finished before this field existed.
   */
  segments?: BillingSegmentRecord[];
  alerts: AlertRecord[];
  cleanup: { status: 'pending' | 'done' | 'not_needed' };
  followUps: FollowUpRecord[];
  /** Highest `Sequence` seen in this lifecycle (decides whether a later start begins a new one). */
  maxSequence: number;
  closed: boolean;
}

export const callbackSignal = defineSignal<[CallbackSignalPayload]>('zegoCallback');
export const stateQuery = defineQuery<LifecycleStateDocument>('state');

/** Memo keys the workflow keeps current, readable through DescribeWorkflowExecution after close. */
export const MEMO_MAX_SEQUENCE = 'maxSequence';
