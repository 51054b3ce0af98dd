/**
 * Every side effect of a lifecycle, as Temporal activities. `createActivities(deps)` is the one place
 * dependencies are wired in; each activity is idempotent, so Temporal may retry any of them freely.
 *
 * Error policy: business failures (bad input, a receiver rejecting an alert) are non-retryable
 * `ApplicationFailure`s with a descriptive `type`; so are database errors no retry can fix
 * (./database-errors.ts); every other database or network error stays retryable.
 */
import { NonRetryableErrorType } from '../workflows/errors';
import { AlertErrorType, createAlertActivities } from './alerts';
import { createBillingActivities } from './billing';
import { createCleanupActivities } from './cleanup';
import type { ActivityDeps } from './deps';
import { followUpActivities, specOf } from './follow-ups';
import { withDatabaseErrors } from './database-errors';
import { createStaleActivities } from './stale';

/** The lifecycle's own activities: what the workflow calls by name. */
export function createActivities(deps: ActivityDeps) {
  const { registerActiveTask, cleanupTask } = createCleanupActivities(deps);
  const { finalizeBilling, amendBilling, amendStaleBilling } = createBillingActivities(deps);
  const { recordAlert, resolveAlert, deliverAlert } = createAlertActivities(deps);
  const { stopStaleTask } = createStaleActivities(deps);
  const specs = (deps.followUps ?? []).map(specOf);
  /** Which follow-ups run after billing (a local activity: the list is recorded in history). */
  async function listFollowUps() {
    return specs;
  }
  const guarded = {
    registerActiveTask,
    cleanupTask,
    finalizeBilling,
    amendBilling,
    amendStaleBilling,
    recordAlert,
    resolveAlert,
    deliverAlert,
    stopStaleTask,
  };
  type Guarded = typeof guarded;
  const wrapped = Object.fromEntries(
    Object.entries(guarded).map(([name, fn]) => [
      name,
      withDatabaseErrors(name, fn as (...args: unknown[]) => Promise<unknown>),
    ]),
  ) as Guarded;
  return { ...wrapped, listFollowUps };
}

export type LifecycleActivities = ReturnType<typeof createActivities>;

/** Everything a worker registers: the lifecycle's activities and the follow-ups it serves itself. */
export function createWorkerActivities(
  deps: ActivityDeps,
): Record<string, (...args: never[]) => Promise<unknown>> {
  const lifecycle = createActivities(deps);
  return { ...lifecycle, ...followUpActivities(deps.followUps ?? [], Object.keys(lifecycle)) };
}

export type { ActivityDeps } from './deps';
export type { RegisterActiveTaskInput, CleanupTaskInput } from './cleanup';
export type { AmendStaleBillingInput, FinalizeBillingInput } from './billing';
export type { DeliverAlertInput, ResolveAlertInput } from './alerts';

/** `ApplicationFailure.type` values the activities throw (the non-retryable ones: workflows/errors.ts). */
export const ActivityErrorType = { ...NonRetryableErrorType, ...AlertErrorType } as const;
