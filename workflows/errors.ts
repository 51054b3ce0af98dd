/**
 * The `ApplicationFailure.type`s of business failures: the activities and follow-ups throw them
 * non-retryable, and the lifecycle lists them in its activities' retry policies, so that no retry
 * repeats one even where it is thrown retryable (a follow-up in another team's worker).
 * Pure: imported by the workflow and by the activities alike.
 */
export const NonRetryableErrorType = {
  /** finalizeBilling was given an input no retry can fix. */
  InvalidBillingInput: 'InvalidBillingInput',
  /** computeBilling threw on the lifecycle's segments. */
  BillingComputationFailed: 'BillingComputationFailed',
  /** An amendment of a lifecycle whose ledger row is missing or not billable. */
  BillingNotAmendable: 'BillingNotAmendable',
  /** The stored alert for a key does not exist (the workflow must record before delivering). */
  AlertNotFound: 'AlertNotFound',
  /** The alert receiver answered 4xx other than 408/429: the same request will not do better. */
  AlertDeliveryRejected: 'AlertDeliveryRejected',
  /** PostgreSQL refused the values for good (SQLSTATE class 22 or 23). */
  DatabaseRejected: 'DatabaseRejected',
  /** ZEGO's server API refused StopCloudTranscode with a code no retry changes. */
  ZegoApiRejected: 'ZegoApiRejected',
  /** A follow-up's receiver refused the event for good. */
  FollowUpRejected: 'FollowUpRejected',
} as const;

export type NonRetryableErrorTypeName = (typeof NonRetryableErrorType)[keyof typeof NonRetryableErrorType];

export const NON_RETRYABLE_ERROR_TYPES: readonly NonRetryableErrorTypeName[] =
  Object.values(NonRetryableErrorType);
