/**
 * The lifecycle's pure state machine: `applyCallback(state, callback)` is all the correlation
 * logic (arrival order, duplicates, next lifecycle). The workflow calls it from its signal
 * handler; unit tests call it without Temporal. No I/O, no clocks, no randomness.
 */
import type {
  AlertRecord,
  BillingDocument,
  CallbackSignalPayload,
  EventRecord,
  FollowUpRecord,
  LifecycleStateDocument,
  LifecycleStatus,
} from './definitions';
import { timestampToMs, type TranscodeInput, type TranscodeOutput } from '../src/zego/types';

/** A callback's point in time as ZEGO stated it. */
export interface Mark {
  sequence: number;
  timestamp: string;
  ms: number;
}

/** A run of time with one set of outputs; opened by the start and by each output-changing update. */
export interface Segment {
  fromMs: number;
  sequence: number;
  outputs: TranscodeOutput[];
}

/** How the lifecycle ended; decided by the workflow (stop seen, or a timer fired). */
export type Outcome = 'stopped' | 'aborted' | 'orphaned' | 'stale';

export interface LifecycleState {
  appId: string;
  taskId: string;
  userId: string;
  workflowId: string;
  lifecycleId: string;
  start: Mark | null;
  stop: (Mark & { stopReason: number }) | null;
  /** Workflow time (ms) the first stop was received: the orphan grace runs from here. */
  stopReceivedAtMs: number | null;
  /** Earliest start/update timestamp (ms): the stale deadline runs from here. */
  firstActiveMs: number | null;
  input: TranscodeInput | null;
  segments: Segment[];
  events: (EventRecord & { key: string })[];
  maxSequence: number;
  /** Set once the outcome is decided; later callbacks are recorded but change nothing. */
  outcome: Outcome | null;
  /** End of billable time when the outcome is `stale` (the stale deadline). */
  staleAtMs: number | null;
  billing: BillingDocument;
  alerts: AlertRecord[];
  cleanup: LifecycleStateDocument['cleanup'];
  followUps: FollowUpRecord[];
  /** Workflow time (ms) a stop of this stale task was requested through ZEGO's API, if it was. */
  staleStopRequestedAtMs: number | null;
  /** Distinct callbacks that belong to the task's next lifecycle, in arrival order. */
  nextLifecycle: CallbackSignalPayload[];
}

export type ApplyResult = 'applied' | 'duplicate' | 'next_lifecycle';

/** ZEGO's identity of one callback: the same event of the same task (contract: Event, Sequence, Status). */
export function callbackKey(cb: Pick<CallbackSignalPayload, 'event' | 'sequence' | 'status'>): string {
  return `${cb.event}:${cb.sequence}:${cb.status}`;
}

export function isUpdate(cb: Pick<CallbackSignalPayload, 'event' | 'status'>): boolean {
  return cb.event === 'transcode_start' && cb.status === 'TranscodeUpdated';
}

export function initialState(ids: {
  appId: string;
  taskId: string;
  workflowId: string;
  lifecycleId: string;
}): LifecycleState {
  return {
    ...ids,
    userId: '',
    start: null,
    stop: null,
    stopReceivedAtMs: null,
    firstActiveMs: null,
    input: null,
    segments: [],
    events: [],
    maxSequence: -1,
    outcome: null,
    staleAtMs: null,
    billing: { status: 'pending' },
    alerts: [],
    cleanup: { status: 'pending' },
    followUps: [],
    staleStopRequestedAtMs: null,
    nextLifecycle: [],
  };
}

/**
 * Whether a distinct callback belongs to the task's next lifecycle rather than this one:
 * a start issued after this lifecycle's stop, or anything newer than a lifecycle already ended.
 */
function belongsToNextLifecycle(state: LifecycleState, cb: CallbackSignalPayload): boolean {
  if (state.outcome !== null) return cb.sequence > state.maxSequence;
  return (
    cb.event === 'transcode_start' &&
    !isUpdate(cb) &&
    state.stop !== null &&
    cb.sequence > state.stop.sequence
  );
}

/**
 * Applies one delivery. Mutates and returns `state` (the workflow owns the only copy; tests pass
 * fresh objects). `nowMs` is workflow time, used only to start the orphan grace.
 */
export function applyCallback(state: LifecycleState, cb: CallbackSignalPayload, nowMs: number): ApplyResult {
  const key = callbackKey(cb);
  const seen = state.events.find((e) => e.key === key);
  if (seen) {
    seen.deliveries += 1;
    return 'duplicate';
  }
  if (belongsToNextLifecycle(state, cb)) {
    const queued = state.nextLifecycle.some((p) => callbackKey(p) === key);
    if (!queued) state.nextLifecycle.push(cb);
    return queued ? 'duplicate' : 'next_lifecycle';
  }

  state.events.push({
    key,
    event: cb.event,
    status: cb.status,
    sequence: cb.sequence,
    timestamp: cb.timestamp,
    receivedAt: cb.receivedAt,
    deliveries: 1,
    ...(cb.event === 'transcode_stop' ? { stopReason: cb.stopReason ?? 0 } : {}),
  });
  // After the outcome is decided a late callback is history only: billing and status are final.
  if (state.outcome !== null) return 'applied';

  state.maxSequence = Math.max(state.maxSequence, cb.sequence);
  if (cb.userId && !state.userId) state.userId = cb.userId;
  const ms = timestampToMs(cb.timestamp);
  const mark: Mark = { sequence: cb.sequence, timestamp: cb.timestamp, ms };

  if (cb.event === 'transcode_stop') {
    if (state.stop === null) {
      state.stop = { ...mark, stopReason: cb.stopReason ?? 0 };
      state.stopReceivedAtMs = nowMs;
    }
    return 'applied';
  }

  // transcode_start: TranscodeStarted (or any unknown Status) starts; TranscodeUpdated updates.
  if (cb.input && Object.keys(cb.input).length > 0) state.input = cb.input;
  state.firstActiveMs = state.firstActiveMs === null ? ms : Math.min(state.firstActiveMs, ms);
  if (!isUpdate(cb) && (state.start === null || mark.sequence < state.start.sequence)) {
    state.start = mark;
  }
  // Outputs define billing: a start or an update carrying outputs opens a segment at its timestamp.
  if (cb.outputs !== undefined) {
    state.segments.push({ fromMs: ms, sequence: cb.sequence, outputs: cb.outputs });
    state.segments.sort((a, b) => a.fromMs - b.fromMs || a.sequence - b.sequence);
  }
  return 'applied';
}

/** The status the contract shows for the current facts. */
export function statusOf(state: LifecycleState): LifecycleStatus {
  if (state.outcome !== null) return state.outcome;
  return state.start === null ? 'awaiting_start' : 'running';
}

/** The outcome the facts already decide (a stop with its start), or null while waiting. */
export function decidedByCallbacks(state: LifecycleState): Outcome | null {
  if (state.start === null || state.stop === null) return null;
  return state.stop.stopReason === 0 ? 'stopped' : 'aborted';
}

/** Billing segments of the lifecycle: clamped to start at the start's timestamp. */
export function billingSegments(state: LifecycleState): Segment[] {
  const startMs = state.start?.ms ?? state.firstActiveMs ?? 0;
  return state.segments.map((s) => ({ ...s, fromMs: Math.max(s.fromMs, startMs) }));
}

/** End of billable time: the stop's timestamp, or the stale deadline. */
export function billingEndMs(state: LifecycleState): number | null {
  if (state.outcome === 'stale') return state.staleAtMs;
  return state.stop?.ms ?? null;
}

function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/** The outputs in force now: those of the latest segment. */
export function currentOutputs(state: LifecycleState): TranscodeOutput[] {
  return state.segments.length ? state.segments[state.segments.length - 1].outputs : [];
}

export function toDocument(state: LifecycleState, runId: string, closed: boolean): LifecycleStateDocument {
  const startedMs = state.start?.ms ?? null;
  const stoppedMs = state.stop?.ms ?? null;
  return {
    appId: state.appId,
    taskId: state.taskId,
    userId: state.userId,
    workflowId: state.workflowId,
    runId,
    lifecycleId: state.lifecycleId,
    status: statusOf(state),
    startedAt: iso(startedMs),
    stoppedAt: iso(stoppedMs),
    durationSeconds:
      startedMs !== null && stoppedMs !== null
        ? Math.max(0, Math.round((stoppedMs - startedMs) / 1000))
        : null,
    stopReason: state.stop?.stopReason ?? null,
    input: state.input,
    outputs: currentOutputs(state),
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    events: state.events.map(({ key, ...event }) => event),
    billing: state.billing,
    alerts: state.alerts,
    cleanup: state.cleanup,
    followUps: state.followUps,
    maxSequence: state.maxSequence,
    closed,
  };
}
