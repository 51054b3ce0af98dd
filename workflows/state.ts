/**
 * The lifecycle's pure state machine: `applyCallback(state, callback)` is all the correlation
 * logic (arrival order, duplicates, next lifecycle). The workflow calls it from its signal
 * handler; unit tests call it without Temporal. No I/O, no clocks, no randomness.
 */
import type {
  AlertRecord,
  BillingDocument,
  BillingSegmentRecord,
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
  /** Outputs in force: those of the latest start/update that carried outputs (as ZEGO sent them). */
  outputs: TranscodeOutput[];
  /** Billing segments; outputs reduced to what decides the tier, so long tasks stay small. */
  segments: Segment[];
  /** The most recent distinct callbacks (at most EVENTS_KEPT), with their delivery counts. */
  events: (EventRecord & { key: string })[];
  /** Distinct callbacks dropped from `events` to bound its size (still recognised as duplicates). */
  eventsOmitted: number;
  /** Every distinct callback seen: `Event:Status` → sorted, disjoint [first, last] Sequence ranges. */
  seen: Record<string, [number, number][]>;
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
  /**
   * Set while a stale lifecycle waits for the task's own stop: the workflow time (ms) it gives up
   * (STALE_STOP_HORIZON after it went stale). Meanwhile the task's stop and updates still shape
   * the lifecycle (see `awaitsOwnStop`). The workflow sets and clears it; absent in lifecycles
   * that went stale before the wait existed (they never wait).
   */
  ownStopUntilMs?: number | null;
  /**
   * Set when an earlier-signed original of a billed callback arrived after the outcome and moved
   * the start, the stop or a segment: the workflow amends the bill to the facts and clears it.
   * Absent in lifecycles begun before such originals amended bills.
   */
  billingToAmend?: boolean;
  /** How many such amendments the lifecycle made (each one's ledger reason is numbered). */
  earlierTimestampAmendments?: number;
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
    outputs: [],
    segments: [],
    events: [],
    eventsOmitted: 0,
    seen: {},
    maxSequence: -1,
    outcome: null,
    staleAtMs: null,
    billing: { status: 'pending' },
    alerts: [],
    cleanup: { status: 'pending' },
    followUps: [],
    staleStopRequestedAtMs: null,
    nextLifecycle: [],
    ownStopUntilMs: null,
  };
}

/** How many distinct callbacks the state document lists; older updates beyond it are counted only. */
export const EVENTS_KEPT = 500;

function seenKey(cb: Pick<CallbackSignalPayload, 'event' | 'status'>): string {
  return `${cb.event}:${cb.status}`;
}

export function hasSeen(state: LifecycleState, cb: CallbackSignalPayload): boolean {
  return (state.seen[seenKey(cb)] ?? []).some(([lo, hi]) => cb.sequence >= lo && cb.sequence <= hi);
}

/** Adds a Sequence to its ranges, merging neighbours: thousands of updates stay a few numbers. */
function markSeen(state: LifecycleState, cb: CallbackSignalPayload): void {
  const key = seenKey(cb);
  const ranges = [...(state.seen[key] ?? []), [cb.sequence, cb.sequence] as [number, number]];
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  state.seen[key] = merged;
}

/** Keeps `events` bounded: drops the oldest update first (starts and stops stay listed). */
function trimEvents(state: LifecycleState): void {
  while (state.events.length > EVENTS_KEPT) {
    const oldestUpdate = state.events.findIndex((e) => e.status === 'TranscodeUpdated');
    state.events.splice(oldestUpdate >= 0 ? oldestUpdate : 0, 1);
    state.eventsOmitted += 1;
  }
}

/** What decides an output's tier; the rest (stream ids, bitrate, codec) is not kept per segment. */
function billingShape({ Width, Height, ShortEdgeAdaption }: TranscodeOutput): TranscodeOutput {
  return {
    ...(Width !== undefined ? { Width } : {}),
    ...(Height !== undefined ? { Height } : {}),
    ...(ShortEdgeAdaption === 1 ? { ShortEdgeAdaption } : {}),
  };
}

/**
 * A stale lifecycle waiting for the task's own stop (contract: "A stale task's own stop"). Until
 * the workflow ends the wait, callbacks shape it as before its outcome: the task's stop (with a
 * Sequence newer than all it saw) ends its bill, updates still count, and only a new start belongs
 * to the next lifecycle.
 */
export function awaitsOwnStop(state: LifecycleState): boolean {
  return state.outcome === 'stale' && state.ownStopUntilMs != null;
}

/** Whether callbacks still change the lifecycle's facts (else they are history only). */
function takesFacts(state: LifecycleState): boolean {
  return state.outcome === null || awaitsOwnStop(state);
}

/**
 * Whether a distinct callback belongs to the task's next lifecycle rather than this one:
 * a start issued after this lifecycle's stop, or anything newer than a lifecycle already ended
 * (of a stale one waiting for its own stop: a start newer than all it saw).
 */
function belongsToNextLifecycle(state: LifecycleState, cb: CallbackSignalPayload): boolean {
  const isStart = cb.event === 'transcode_start' && !isUpdate(cb);
  if (awaitsOwnStop(state)) return isStart && cb.sequence > (state.stop?.sequence ?? state.maxSequence);
  if (state.outcome !== null) return cb.sequence > state.maxSequence;
  return isStart && state.stop !== null && cb.sequence > state.stop.sequence;
}

/**
 * Applies one delivery. Mutates and returns `state` (the workflow owns the only copy; tests pass
 * fresh objects). `nowMs` is workflow time, used only to start the orphan grace.
 * `amendsAfterOutcome` is asked only when an earlier-signed original would move a fact the bill
 * was already computed from: true lets it move the fact and sets `billingToAmend` (the workflow
 * asks its patch here, so lifecycles begun before keep ignoring such originals on replay).
 */
export function applyCallback(
  state: LifecycleState,
  cb: CallbackSignalPayload,
  nowMs: number,
  amendsAfterOutcome?: () => boolean,
): ApplyResult {
  const key = callbackKey(cb);
  const listed = state.events.find((e) => e.key === key);
  if (listed) {
    listed.deliveries += 1;
    adoptIfEarlier(state, cb, listed, amendsAfterOutcome);
    return 'duplicate';
  }
  if (hasSeen(state, cb)) {
    adoptIfEarlier(state, cb, undefined, amendsAfterOutcome);
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
  markSeen(state, cb);
  trimEvents(state);
  // After the outcome is decided a late callback is history only: billing and status are final.
  if (!takesFacts(state)) return 'applied';
  // A stale task's own stop is the next Sequence; an older stop that never came is history only.
  if (awaitsOwnStop(state) && cb.event === 'transcode_stop' && cb.sequence <= state.maxSequence) {
    return 'applied';
  }

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
    const segment = { fromMs: ms, sequence: cb.sequence, outputs: cb.outputs.map(billingShape) };
    // Kept in (time, Sequence) order; callbacks mostly arrive in order, so this is usually an append.
    let at = state.segments.length;
    while (
      at > 0 &&
      (state.segments[at - 1].fromMs > ms ||
        (state.segments[at - 1].fromMs === ms && state.segments[at - 1].sequence > cb.sequence))
    )
      at -= 1;
    state.segments.splice(at, 0, segment);
    if (at === state.segments.length - 1) state.outputs = cb.outputs;
  }
  return 'applied';
}

/**
 * A duplicate while the facts are open moves them to its Timestamp if it is earlier (see
 * adoptEarlierTimestamp). After the outcome it does so only when it moves a billed fact and the
 * workflow agrees: then the bill is amended to it.
 */
function adoptIfEarlier(
  state: LifecycleState,
  cb: CallbackSignalPayload,
  listed: (EventRecord & { key: string }) | undefined,
  amendsAfterOutcome: (() => boolean) | undefined,
): void {
  const amend = state.outcome !== null && movesBilledFact(state, cb) && (amendsAfterOutcome?.() ?? false);
  if (takesFacts(state) || amend) adoptEarlierTimestamp(state, cb, listed);
  if (amend) state.billingToAmend = true;
}

/** Whether a duplicate's earlier Timestamp would move what the bill is computed from. */
export function movesBilledFact(state: LifecycleState, cb: CallbackSignalPayload): boolean {
  if (state.start === null || state.outcome === 'orphaned') return false;
  const ms = timestampToMs(cb.timestamp);
  if (!Number.isFinite(ms)) return false;
  if (cb.event === 'transcode_stop') {
    // A stale bill ends at the stale deadline, not at a stop.
    return state.outcome !== 'stale' && state.stop?.sequence === cb.sequence && ms < state.stop.ms;
  }
  if (!isUpdate(cb) && state.start.sequence === cb.sequence && ms < state.start.ms) return true;
  // A segment opened by an update; one opening before the start is billed from the start anyway.
  return state.segments.some(
    (s) => s.sequence === cb.sequence && ms < s.fromMs && s.fromMs > (state.start as Mark).ms,
  );
}

/**
 * A duplicate signed earlier than the copy already applied: ZEGO re-signs some retries, and when a
 * later-signed copy is delivered first, the earliest Timestamp is the moment the event happened.
 * Moves the event's start, stop or segment there.
 */
function adoptEarlierTimestamp(
  state: LifecycleState,
  cb: CallbackSignalPayload,
  listed: (EventRecord & { key: string }) | undefined,
): void {
  const ms = timestampToMs(cb.timestamp);
  if (!Number.isFinite(ms)) return;
  if (listed && ms < timestampToMs(listed.timestamp)) listed.timestamp = cb.timestamp;
  const earlier = (mark: Mark | null) => mark !== null && mark.sequence === cb.sequence && ms < mark.ms;
  if (cb.event === 'transcode_stop') {
    if (state.stop && earlier(state.stop)) Object.assign(state.stop, { ms, timestamp: cb.timestamp });
    return;
  }
  if (!isUpdate(cb) && earlier(state.start)) Object.assign(state.start!, { ms, timestamp: cb.timestamp });
  if (state.firstActiveMs !== null && ms < state.firstActiveMs) state.firstActiveMs = ms;
  const moved = state.segments.filter((s) => s.sequence === cb.sequence && ms < s.fromMs);
  if (moved.length === 0) return;
  for (const segment of moved) segment.fromMs = ms;
  state.segments.sort((a, b) => a.fromMs - b.fromMs || a.sequence - b.sequence);
}

/**
 * Sequences between the start's and the stop's that no callback has carried yet, as [first, last]
 * ranges: ZEGO may still be retrying an update there (it gives up ~62 s after the first attempt),
 * and an update changes the bill. Empty without both a start and a stop, or when none are missing.
 * ZEGO's Sequence is the caller's and need not be contiguous, so a gap is only a reason to wait,
 * never proof that something is missing.
 */
export function missingSequences(state: LifecycleState): [number, number][] {
  if (state.start === null || state.stop === null) return [];
  const from = state.start.sequence + 1;
  const to = state.stop.sequence - 1;
  if (from > to) return [];
  const covered = Object.values(state.seen)
    .flat()
    .filter(([lo, hi]) => hi >= from && lo <= to)
    .sort((a, b) => a[0] - b[0]);
  const missing: [number, number][] = [];
  let next = from;
  for (const [lo, hi] of covered) {
    if (lo > next) missing.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
    if (next > to) break;
  }
  if (next <= to) missing.push([next, to]);
  return missing;
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

/**
 * When a decided stop gives up waiting for the Sequences missing before it (`graceMs` after it
 * arrived); -Infinity when none is missing or the wait is off (`graceMs` null).
 */
export function sequenceGapDeadlineMs(state: LifecycleState, graceMs: number | null): number {
  if (graceMs === null || missingSequences(state).length === 0) return Number.NEGATIVE_INFINITY;
  return (state.stopReceivedAtMs ?? 0) + graceMs;
}

/** The timers of the collecting loop (LifecycleSettings' names). */
export interface CollectTimers {
  orphanGraceMs: number;
  staleStopGraceMs: number;
  maxTaskDurationMs: number;
}

/**
 * What the collecting loop waits for next while the outcome is undecided: when its timer fires
 * (Infinity: no timer, only a callback ends the wait) and the outcome the firing decides.
 * `decided` and `gapDeadlineMs`: decidedByCallbacks and sequenceGapDeadlineMs of the state.
 */
export function nextTimer(
  state: LifecycleState,
  decided: Outcome | null,
  gapDeadlineMs: number,
  timers: CollectTimers,
): { deadlineMs: number; onTimeout: Outcome } {
  if (decided !== null) return { deadlineMs: gapDeadlineMs, onTimeout: decided };
  if (state.stop !== null && state.stopReceivedAtMs !== null) {
    return { deadlineMs: state.stopReceivedAtMs + timers.orphanGraceMs, onTimeout: 'orphaned' };
  }
  // We asked ZEGO to stop the stale task: its stop callback completes the lifecycle normally.
  if (state.staleStopRequestedAtMs !== null) {
    return { deadlineMs: state.staleStopRequestedAtMs + timers.staleStopGraceMs, onTimeout: 'stale' };
  }
  if (state.firstActiveMs !== null) {
    return { deadlineMs: state.firstActiveMs + timers.maxTaskDurationMs, onTimeout: 'stale' };
  }
  return { deadlineMs: Number.POSITIVE_INFINITY, onTimeout: 'stale' };
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

/** The billing segments as the document shows them, each with its end. */
function segmentRecords(state: LifecycleState): BillingSegmentRecord[] {
  const segments = billingSegments(state);
  const endMs = billingEndMs(state);
  return segments.map((s, i) => {
    const next = i + 1 < segments.length ? segments[i + 1].fromMs : null;
    const end = next !== null && endMs !== null ? Math.min(next, endMs) : (next ?? endMs);
    // A segment opened after the end lasts nothing (it bills nothing either).
    const until = end === null ? null : Math.max(end, s.fromMs);
    return { from: iso(s.fromMs), until: iso(until), sequence: s.sequence, outputs: s.outputs };
  });
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
    outputs: state.outputs,
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    events: state.events.map(({ key, ...event }) => event),
    eventsOmitted: state.eventsOmitted,
    billing: state.billing,
    segments: segmentRecords(state),
    alerts: state.alerts,
    cleanup: state.cleanup,
    followUps: state.followUps,
    maxSequence: state.maxSequence,
    closed,
  };
}
