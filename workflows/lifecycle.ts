/**
 * One transcoding task's lifecycle: collect callbacks in any order until the outcome is decided
 * (a stop with its start, or a timer), settle it through activities (cleanup, billing, alerts, in
 * parallel), then linger to absorb late and repeated deliveries before closing. A lifecycle that
 * went stale first waits (up to STALE_STOP_HORIZON) for the task's own stop, which amends its bill
 * to the stop and resolves its stale_task alert.
 */
import {
  ActivityFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { LifecycleActivities } from '../activities';
import {
  callbackSignal,
  DEFAULT_SEQUENCE_GAP_GRACE_MS,
  DEFAULT_STALE_STOP_HORIZON_MS,
  MEMO_MAX_SEQUENCE,
  searchAttributes,
  stateQuery,
  type AlertKind,
  type AlertRecord,
  type BillingDocument,
  type CallbackSignalPayload,
  type FollowUpInput,
  type FollowUpSpec,
  type LifecycleSettings,
  type LifecycleStateDocument,
} from './definitions';
import { NON_RETRYABLE_ERROR_TYPES } from './errors';
import {
  applyCallback,
  awaitsOwnStop,
  billingEndMs,
  billingSegments,
  decidedByCallbacks,
  initialState,
  nextTimer,
  sequenceGapDeadlineMs,
  statusOf,
  toDocument,
  type LifecycleState,
  type Outcome,
} from './state';

export interface LifecycleInput {
  appId: string;
  taskId: string;
  settings: LifecycleSettings;
  /** Callbacks that open this lifecycle (they arrived at the end of the previous one). */
  opening?: CallbackSignalPayload[];
  /** The same lifecycle carried over continue-as-new. */
  carried?: { state: LifecycleState; registered: boolean; settled: boolean; lingerUntilMs: number | null };
}

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERROR_TYPES];

// Side effects that must eventually happen (ledger, registry): retried until the database is back.
const durable: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes },
};
// An alert receiver may be down for good: bounded retries (about 40 min), then recorded as failed.
const alertDelivery: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    maximumAttempts: 12,
    nonRetryableErrorTypes,
  },
};

// A stale task's stop through ZEGO's API: a few tries, then the lifecycle closes as stale anyway.
const zegoStop: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes,
  },
};
const DEFAULT_FOLLOW_UP_RETRY: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 5,
};

/** A follow-up's own policy, never retrying a business failure (its declarer may not list them). */
function followUpRetry(spec: FollowUpSpec): RetryPolicy {
  const retry = spec.retry ?? DEFAULT_FOLLOW_UP_RETRY;
  const own = retry.nonRetryableErrorTypes ?? [];
  return {
    ...retry,
    nonRetryableErrorTypes: [...own, ...nonRetryableErrorTypes.filter((t) => !own.includes(t))],
  };
}

const act = proxyActivities<LifecycleActivities>(durable);
const delivery = proxyActivities<LifecycleActivities>(alertDelivery);
const stale = proxyActivities<LifecycleActivities>(zegoStop);
const local = proxyLocalActivities<LifecycleActivities>({ startToCloseTimeout: '10s' });

/**
 * Lifecycles that went stale before this patch closed after the linger, a later stop opening the
 * next lifecycle: they replay without it. Asked where the outcome becomes stale, so a lifecycle
 * that was running when the worker was upgraded waits for its own stop too.
 */
export const STALE_OWN_STOP_PATCH = 'stale-own-stop';
/** An activity that failed for good raises `activity_failed` (before: logged only). */
export const ACTIVITY_FAILED_PATCH = 'activity-failed-alert';
/**
 * An earlier-signed original of a billed callback, arriving after the outcome, amends the bill
 * (before: history only, the bill kept the re-signed copy's later Timestamp). Asked only when such
 * an original arrives, so other lifecycles' histories carry no marker.
 */
export const EARLIER_ORIGINAL_PATCH = 'earlier-original-amends-bill';

type BillingRecord = Awaited<ReturnType<LifecycleActivities['finalizeBilling']>>;

const ALERT_FOR: Partial<Record<Outcome, AlertKind>> = {
  aborted: 'abnormal_stop',
  orphaned: 'orphaned_stop',
  stale: 'stale_task',
};

export async function transcodeLifecycle(input: LifecycleInput): Promise<LifecycleStateDocument> {
  const { settings } = input;
  const info = workflowInfo();
  const state =
    input.carried?.state ??
    initialState({
      appId: input.appId,
      taskId: input.taskId,
      workflowId: info.workflowId,
      lifecycleId: `${info.workflowId}:${info.runId}`,
    });
  let registered = input.carried?.registered ?? false;
  let settled = input.carried?.settled ?? false;
  let lingerUntilMs = input.carried?.lingerUntilMs ?? null;
  let revision = 0;
  // Lifecycles begun before the gap wait existed replay without it (it adds a timer).
  const gapGraceMs = patched('await-sequence-gaps')
    ? (settings.sequenceGapGraceMs ?? DEFAULT_SEQUENCE_GAP_GRACE_MS)
    : null;

  const visible: Record<string, string> = {};
  const syncVisibility = () => {
    const wanted: [keyof typeof searchAttributes, string][] = [
      ['appId', state.appId],
      ['taskId', state.taskId],
      ['userId', state.userId],
      ['status', statusOf(state)],
    ];
    const changed = wanted.filter(([name, value]) => value !== '' && visible[name] !== value);
    if (!changed.length) return;
    upsertSearchAttributes(changed.map(([name, value]) => ({ key: searchAttributes[name], value })));
    for (const [name, value] of changed) visible[name] = value;
  };

  setHandler(stateQuery, () => toDocument(state, workflowInfo().runId, false));
  const amendsAfterOutcome = () => patched(EARLIER_ORIGINAL_PATCH);
  setHandler(callbackSignal, (payload) => {
    if (applyCallback(state, payload, Date.now(), amendsAfterOutcome) === 'applied') revision += 1;
    syncVisibility();
  });
  for (const payload of input.opening ?? []) applyCallback(state, payload, Date.now());
  syncVisibility();

  const historyIsLong = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > settings.continueAsNewAfterEvents;
  const carryOver = () =>
    continueAsNew<typeof transcodeLifecycle>({
      appId: input.appId,
      taskId: input.taskId,
      settings,
      carried: { state, registered, settled, lingerUntilMs },
    });

  // 1. Collect callbacks until the outcome is decided.
  while (state.outcome === null) {
    if (state.start !== null && !registered) {
      try {
        await act.registerActiveTask({
          appId: state.appId,
          taskId: state.taskId,
          userId: state.userId,
          workflowId: state.workflowId,
          lifecycleId: state.lifecycleId,
          startedAt: new Date(state.start.ms).toISOString(),
          input: state.input,
          outputs: state.outputs,
        });
      } catch (err) {
        // Only a failure no retry can fix gets here (its retries are unlimited): carry on unregistered.
        await activityFailed(state, 'registerActiveTask', err);
      }
      registered = true;
      continue;
    }
    const decided = decidedByCallbacks(state);
    // A stop with its start decides, unless a Sequence between them is missing: an update ZEGO is
    // still retrying would change the bill, so wait for it, up to SEQUENCE_GAP_GRACE.
    const gapDeadlineMs =
      decided !== null ? sequenceGapDeadlineMs(state, gapGraceMs) : Number.NEGATIVE_INFINITY;
    if (decided !== null && gapDeadlineMs <= Date.now()) {
      state.outcome = decided;
      break;
    }
    if (historyIsLong()) await carryOver();

    const { deadlineMs, onTimeout } = nextTimer(state, decided, gapDeadlineMs, settings);
    const seen = revision;
    const remaining = deadlineMs - Date.now();
    const wake = () => revision !== seen || historyIsLong();
    let woke = remaining > 0;
    if (woke && Number.isFinite(remaining)) woke = await condition(wake, remaining);
    else if (woke) await condition(wake);
    if (!woke) {
      if (onTimeout === 'stale' && state.staleStopRequestedAtMs === null && state.start !== null) {
        const requestedAtMs = Date.now();
        if ((await stopStaleTask(state)) === 'stop_requested') {
          state.staleStopRequestedAtMs = requestedAtMs;
          continue;
        }
        // The stop callback may have arrived while we were asking ZEGO: the facts decide then.
        if (decidedByCallbacks(state) !== null) continue;
      }
      state.outcome = onTimeout;
      if (onTimeout === 'stale') {
        // Billable until we stopped it, else until the stale deadline (until its own stop arrives).
        state.staleAtMs = state.staleStopRequestedAtMs ?? deadlineMs;
        const horizonMs = settings.staleStopHorizonMs ?? DEFAULT_STALE_STOP_HORIZON_MS;
        if (state.start !== null && horizonMs > 0 && patched(STALE_OWN_STOP_PATCH)) {
          state.ownStopUntilMs = Date.now() + horizonMs;
        }
      }
    }
  }
  syncVisibility();

  // 2. Settle: each effect on its own, none waiting for another.
  if (!settled) {
    const kind = state.outcome ? ALERT_FOR[state.outcome] : undefined;
    await Promise.all([
      cleanup(state, registered),
      finalizeBilling(state).then(() => runFollowUps(state)),
      kind ? raiseAlert(state, kind, ...alertReason(state, kind), `${state.lifecycleId}:${kind}`) : undefined,
    ]);
    settled = true;
  }

  // 3. A stale lifecycle waits for the task's own stop, up to the horizon; no timer but that one
  // (an idle workflow costs nothing). A new start instead ends the wait: it opens the next lifecycle.
  while (awaitsOwnStop(state)) {
    const decided = decidedByCallbacks(state);
    let deadlineMs = state.ownStopUntilMs as number;
    if (decided !== null) {
      // As for any stop: a Sequence missing before it may be an update ZEGO still retries.
      const gapDeadlineMs = sequenceGapDeadlineMs(state, gapGraceMs);
      if (gapDeadlineMs <= Date.now()) {
        state.outcome = decided;
        state.ownStopUntilMs = null;
        syncVisibility();
        await settleOwnStop(state, decided);
        break;
      }
      deadlineMs = gapDeadlineMs;
    } else if (state.nextLifecycle.length > 0 || deadlineMs <= Date.now()) {
      state.ownStopUntilMs = null;
      break;
    }
    if (historyIsLong()) await carryOver();
    const seen = revision;
    await condition(
      () => revision !== seen || state.nextLifecycle.length > 0 || historyIsLong(),
      Math.max(1, deadlineMs - Date.now()),
    );
  }

  // 4. Linger: absorb late and repeated deliveries; a newer start opens the next lifecycle.
  lingerUntilMs ??= Date.now() + settings.lingerMs;
  for (;;) {
    // Before anything can hand the task to its next lifecycle.
    if (state.billingToAmend) {
      await amendToEarlierOriginals(state);
      continue;
    }
    if (state.nextLifecycle.length > 0) {
      await continueAsNew<typeof transcodeLifecycle>({
        appId: input.appId,
        taskId: input.taskId,
        settings,
        opening: state.nextLifecycle,
      });
    }
    if (historyIsLong()) await carryOver();
    const remaining = lingerUntilMs - Date.now();
    if (remaining <= 0) break;
    await condition(
      () => state.nextLifecycle.length > 0 || state.billingToAmend === true || historyIsLong(),
      remaining,
    );
  }
  // Read by the HTTP server after close to tell a late duplicate from a new lifecycle.
  upsertMemo({ [MEMO_MAX_SEQUENCE]: state.maxSequence });
  return toDocument(state, workflowInfo().runId, true);
}

async function cleanup(state: LifecycleState, registered: boolean): Promise<void> {
  if (!registered) {
    state.cleanup = { status: 'not_needed' };
    return;
  }
  try {
    await act.cleanupTask({ appId: state.appId, taskId: state.taskId, lifecycleId: state.lifecycleId });
    state.cleanup = { status: 'done' };
  } catch (err) {
    await activityFailed(state, 'cleanupTask', err);
  }
}

/**
 * An activity failed for good (retries are unlimited, so only a non-retryable failure ends one:
 * the database refused its values, the input was wrong): logged, and alerted so that someone
 * repairs what is missing. Lifecycles begun before the alert existed replay without it.
 */
async function activityFailed(state: LifecycleState, activity: string, err: unknown): Promise<void> {
  log.error(`${activity} failed`, { lifecycleId: state.lifecycleId, error: describe(err) });
  if (!patched(ACTIVITY_FAILED_PATCH)) {
    if (activity === 'registerActiveTask') throw err; // as before the patch
    return;
  }
  await raiseAlert(
    state,
    'activity_failed',
    `${activity} failed for good: ${describe(err)}`,
    Date.now(),
    `${state.lifecycleId}:activity_failed:${activity}`,
  );
}

/**
 * The stale task's own stop arrived: its bill now ends at the stop (the ledger row amended once),
 * its stale_task alert is resolved, and an abnormal stop raises abnormal_stop as any would.
 */
async function settleOwnStop(state: LifecycleState, outcome: Outcome): Promise<void> {
  const stop = state.stop!;
  const resolution = `the task's own transcode_stop arrived (Sequence ${stop.sequence}, Timestamp ${stop.timestamp}, StopReason ${stop.stopReason}): billed to it`;
  await Promise.all([
    amendStaleBilling(state),
    resolveAlert(state, `${state.lifecycleId}:stale_task`, resolution, state.stopReceivedAtMs ?? Date.now()),
    outcome === 'aborted'
      ? raiseAlert(
          state,
          'abnormal_stop',
          ...alertReason(state, 'abnormal_stop'),
          `${state.lifecycleId}:abnormal_stop`,
        )
      : undefined,
  ]);
}

function billingDocument(record: BillingRecord): BillingDocument {
  return {
    status: record.status,
    billableSeconds: record.billableSeconds,
    billableMinutes: record.billableMinutes,
    lines: record.lines,
    currency: record.currency,
    totalCost: record.totalCost,
    finalizedAt: record.finalizedAt,
    ...(record.revision > 1 ? { revision: record.revision, amendedAt: record.amendedAt ?? undefined } : {}),
  };
}

/** The stale bill, amended to the task's own stop. */
async function amendStaleBilling(state: LifecycleState): Promise<void> {
  await amendToFacts(state, state.stop?.ms, 'amendStaleBilling', act.amendStaleBilling);
}

/**
 * Earlier-signed originals moved facts the bill was computed from: amended under a numbered reason
 * (counted only when an amendment is asked of the ledger), so that a retry finds itself done.
 */
async function amendToEarlierOriginals(state: LifecycleState): Promise<void> {
  await amendToFacts(state, billingEndMs(state), 'amendBilling', (input) => {
    const n = (state.earlierTimestampAmendments ?? 0) + 1;
    state.earlierTimestampAmendments = n;
    return act.amendBilling({ ...input, reason: `earlier_timestamp:${n}` });
  });
}

/**
 * Amends the finalized bill to the facts as they are now (start, every segment, `endMs`), which
 * covers any earlier-signed original that came before. Follow-ups that already ran are not run again.
 */
async function amendToFacts(
  state: LifecycleState,
  endMs: number | null | undefined,
  activity: 'amendStaleBilling' | 'amendBilling',
  amend: (input: Parameters<LifecycleActivities['amendStaleBilling']>[0]) => Promise<BillingRecord>,
): Promise<void> {
  state.billingToAmend = false;
  // The bill never landed (a non-retryable failure, logged then): there is no row to amend.
  if (state.billing.status !== 'finalized' || endMs == null || !Number.isFinite(endMs)) {
    log.error('billing not amended', {
      lifecycleId: state.lifecycleId,
      activity,
      billing: state.billing.status,
    });
    return;
  }
  try {
    const record = await amend({
      lifecycleId: state.lifecycleId,
      ...(state.start ? { startedAt: new Date(state.start.ms).toISOString() } : {}),
      stoppedAt: new Date(endMs).toISOString(),
      segments: billingSegments(state),
      endMs,
    });
    state.billing = billingDocument(record);
  } catch (err) {
    await activityFailed(state, activity, err);
  }
}

async function finalizeBilling(state: LifecycleState): Promise<void> {
  const billable = state.start !== null && state.outcome !== 'orphaned';
  try {
    const record = await act.finalizeBilling({
      lifecycleId: state.lifecycleId,
      workflowId: state.workflowId,
      appId: state.appId,
      taskId: state.taskId,
      userId: state.userId,
      billable,
      startedAt: state.start ? new Date(state.start.ms).toISOString() : null,
      stoppedAt: billingEndMs(state) !== null ? new Date(billingEndMs(state) as number).toISOString() : null,
      segments: billable ? billingSegments(state) : [],
      endMs: billable ? billingEndMs(state) : null,
    });
    state.billing = billingDocument(record);
  } catch (err) {
    await activityFailed(state, 'finalizeBilling', err);
  }
}

function alertReason(state: LifecycleState, kind: AlertKind): [reason: string, occurredMs: number] {
  switch (kind) {
    case 'abnormal_stop':
      return [
        `ZEGO stopped the task after an exception (StopReason ${state.stop?.stopReason})`,
        state.stop?.ms ?? Date.now(),
      ];
    case 'orphaned_stop':
      return [
        'transcode_stop arrived but its transcode_start never did within ORPHAN_STOP_GRACE',
        Date.now(),
      ];
    case 'stale_task':
      return [
        state.staleStopRequestedAtMs !== null
          ? 'no transcode_stop within MAX_TASK_DURATION; StopCloudTranscode was requested but no stop callback followed'
          : 'no transcode_stop within MAX_TASK_DURATION of the task becoming active',
        state.staleAtMs ?? Date.now(),
      ];
    case 'follow_up_failed':
      return ['a follow-up exhausted its retries', Date.now()];
    case 'activity_failed':
      return ['an activity failed for good', Date.now()];
  }
}

async function raiseAlert(
  state: LifecycleState,
  kind: AlertKind,
  reason: string,
  occurredMs: number,
  key: string,
): Promise<void> {
  const record: AlertRecord = {
    kind,
    at: new Date(occurredMs).toISOString(),
    message: reason,
    key,
    delivery: 'pending',
  };
  state.alerts.push(record);
  try {
    const stored = await act.recordAlert({
      key,
      kind,
      appId: state.appId,
      taskId: state.taskId,
      userId: state.userId,
      workflowId: state.workflowId,
      lifecycleId: state.lifecycleId,
      reason,
      occurredAt: record.at,
      details: { sequence: state.maxSequence, stopReason: state.stop?.stopReason ?? null },
    });
    record.delivery = stored.delivery;
    if (stored.delivery !== 'not_configured') {
      record.delivery = (await delivery.deliverAlert({ key })).delivery;
    }
  } catch (err) {
    record.delivery = 'failed';
    log.error('alert delivery failed', { key, error: describe(err) });
  }
}

/**
 * Marks the alert with this key resolved (the first resolution wins) and sends its all-clear where
 * the alert went. Generic: any alert kind whose condition can end.
 */
async function resolveAlert(
  state: LifecycleState,
  key: string,
  resolution: string,
  resolvedMs: number,
): Promise<void> {
  const record = state.alerts.find((a) => a.key === key);
  if (!record) return;
  record.resolvedAt = new Date(resolvedMs).toISOString();
  record.resolution = resolution;
  record.resolutionDelivery = 'pending';
  try {
    const stored = await act.resolveAlert({ key, resolution, resolvedAt: record.resolvedAt });
    record.resolvedAt = stored.resolvedAt ?? record.resolvedAt;
    record.resolution = stored.resolution ?? record.resolution;
    record.resolutionDelivery = stored.resolutionDelivery ?? 'pending';
    if (record.resolutionDelivery !== 'not_configured') {
      record.resolutionDelivery = (await delivery.deliverAlert({ key, resolved: true })).delivery;
    }
  } catch (err) {
    record.resolutionDelivery = 'failed';
    log.error('alert resolution failed', { key, error: describe(err) });
  }
}

/** Asks ZEGO to stop a stale task; anything but a confirmed request closes the lifecycle as stale. */
async function stopStaleTask(state: LifecycleState): Promise<string> {
  try {
    const { outcome } = await stale.stopStaleTask({
      appId: state.appId,
      taskId: state.taskId,
      userId: state.userId,
      sequence: state.maxSequence + 1,
    });
    return outcome;
  } catch (err) {
    log.warn('StopCloudTranscode of a stale task failed', {
      lifecycleId: state.lifecycleId,
      error: describe(err),
    });
    return 'failed';
  }
}

/**
 * Runs every registered follow-up after billing, each on its own: a failure never blocks the
 * others (nor billing or cleanup, which do not wait for them), and exhausted retries raise an alert.
 */
async function runFollowUps(state: LifecycleState): Promise<void> {
  let specs: FollowUpSpec[];
  try {
    specs = await local.listFollowUps();
  } catch (err) {
    log.error('could not list follow-ups', { lifecycleId: state.lifecycleId, error: describe(err) });
    return;
  }
  state.followUps = specs.map((spec) => ({ name: spec.name, status: 'pending', attempts: 0, error: null }));
  const lifecycle = toDocument(state, workflowInfo().runId, false);
  await Promise.all(
    specs.map(async (spec, i) => {
      const record = state.followUps[i];
      const retry = followUpRetry(spec);
      const run = proxyActivities<
        Record<string, (input: FollowUpInput) => Promise<{ attempt?: number } | void>>
      >({
        startToCloseTimeout: spec.startToCloseTimeout,
        retry,
        ...(spec.taskQueue ? { taskQueue: spec.taskQueue } : {}),
      })[spec.name];
      try {
        const result = await run({ lifecycle, idempotencyKey: `${state.lifecycleId}:${spec.name}` });
        record.status = 'done';
        record.attempts = (result && typeof result.attempt === 'number' && result.attempt) || 1;
      } catch (err) {
        record.status = 'failed';
        record.attempts = retry.maximumAttempts ?? 0;
        record.error = describe(err);
        await raiseAlert(
          state,
          'follow_up_failed',
          `follow-up ${spec.name} failed: ${record.error}`,
          Date.now(),
          `${state.lifecycleId}:follow_up_failed:${spec.name}`,
        );
      }
    }),
  );
}

function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
