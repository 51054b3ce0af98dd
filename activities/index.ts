/**
 * Every side effect of a lifecycle, as Temporal activities. `createActivities(deps)` is the one place
 * dependencies are wired in; each activity is idempotent, so Temporal may retry any of them freely.
 *
 * Error policy: business failures (bad input, a receiver rejecting an alert) are non-retryable
 * `ApplicationFailure`s with a descriptive `type`; database and network errors stay retryable.
 */
import type { Logger } from 'pino';
import type { Database } from '../src/store/types';
import type { PriceTable, Tier } from '../src/zego/billing-types';
import { AlertErrorType, createAlertActivities } from './alerts';
import { BillingErrorType, createBillingActivities } from './billing';
import { createCleanupActivities } from './cleanup';

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
}

export function createActivities(deps: ActivityDeps) {
  const { registerActiveTask, cleanupTask } = createCleanupActivities(deps);
  const { finalizeBilling } = createBillingActivities(deps);
  const { recordAlert, deliverAlert } = createAlertActivities(deps);
  return { registerActiveTask, cleanupTask, finalizeBilling, recordAlert, deliverAlert };
}

export type LifecycleActivities = ReturnType<typeof createActivities>;

export type { RegisterActiveTaskInput, CleanupTaskInput } from './cleanup';
export type { FinalizeBillingInput } from './billing';
export type { DeliverAlertInput } from './alerts';

/** `ApplicationFailure.type` values the activities throw (usable in `RetryPolicy.nonRetryableErrorTypes`). */
export const ActivityErrorType = { ...BillingErrorType, ...AlertErrorType } as const;
