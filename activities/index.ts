/**
 * Every side effect of a lifecycle, as Temporal activities. `createActivities(deps)` is the one place
 * dependencies are wired in; each activity is idempotent, so Temporal may retry any of them freely.
 *
 * Error policy: business failures (bad input, a receiver rejecting an alert) are non-retryable
 * `ApplicationFailure`s with a descriptive `type`; so are database errors no retry can fix
 * (./database-errors.ts); every other database or network error stays retryable.
 */
import type { Logger } from 'pino';
import type { Database } from '../src/store/types';
import type { PriceTable, Tier } from '../src/zego/billing-types';
import { AlertErrorType, createAlertActivities } from './alerts';
import { BillingErrorType, createBillingActivities } from './billing';
import { createCleanupActivities } from './cleanup';
import { followUpActivities, specOf, type FollowUp } from './follow-ups';
import { DatabaseErrorType, withDatabaseErrors } from './database-errors';
import { createStaleActivities } from './stale';
import type { ZegoApiClient } from '../src/zego/api-client';

export interface ActivityDeps {
  db: Database;
  prices: PriceTable;
  unknownResolutionTier: Tier;
  alertWebhookUrl?: string;
  logger: Logger;
  /** Injectable for tests (default: global fetch). */
  fetch?: typeof fetch;
  /** Per POST, default 10 s. */
  alertTimeoutMs?: number;
  /** ZEGO's server API (ZEGO_APP_ID/ZEGO_SERVER_SECRET): stale tasks are stopped through it. */
  zegoApi?: ZegoApiClient | null;
  /** Registered business follow-ups (activities/follow-ups/index.ts). */
  followUps?: readonly FollowUp[];
}

/** The lifecycle's own activities: what the workflow calls by name. */
export function createActivities(deps: ActivityDeps) {
  const { registerActiveTask, cleanupTask } = createCleanupActivities(deps);
  const { finalizeBilling, amendStaleBilling } = createBillingActivities(deps);
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

export type { RegisterActiveTaskInput, CleanupTaskInput } from './cleanup';
export type { AmendStaleBillingInput, FinalizeBillingInput } from './billing';
export type { DeliverAlertInput, ResolveAlertInput } from './alerts';

/** `ApplicationFailure.type` values the activities throw (usable in `RetryPolicy.nonRetryableErrorTypes`). */
export const ActivityErrorType = { ...BillingErrorType, ...AlertErrorType, ...DatabaseErrorType } as const;
