/**
 * Billing finalization: computes a lifecycle's charge and writes it to the ledger exactly once; the
 * row is amended when a stale task's own stop arrives, or an earlier-signed original of a billed
 * callback (each reason once).
 */
import { ApplicationFailure } from '@temporalio/common';
import { computeBilling, type BillingSegment } from '../src/zego/billing';
import type { BillingResult } from '../src/zego/billing-types';
import type { AmendmentReason, BillingRecord } from '../src/store/types';
import { NonRetryableErrorType } from '../workflows/errors';
import type { ActivityDeps } from './deps';

export interface FinalizeBillingInput {
  lifecycleId: string;
  workflowId: string;
  appId: string;
  taskId: string;
  userId: string;
  /** False when no start was ever seen: the record is written with status 'not_billable' and zero totals. */
  billable: boolean;
  startedAt: string | null;
  stoppedAt: string | null;
  segments: BillingSegment[];
  /** Epoch ms the billed period ends (the stop's timestamp); required when billable. */
  endMs: number | null;
}

/** A finalized bill, recomputed to the lifecycle's facts as they are now. */
export interface AmendBillingInput {
  lifecycleId: string;
  /** Each reason amends a lifecycle once; a retry with the same one finds it done. */
  reason: AmendmentReason;
  /** ISO time the bill now starts (the start's Timestamp); the row's started_at is kept when absent. */
  startedAt?: string;
  /** ISO time the bill now ends: the row's new stopped_at. */
  stoppedAt: string;
  segments: BillingSegment[];
  /** Epoch ms the billed period now ends. */
  endMs: number;
}

/** A stale lifecycle's bill, recomputed to the task's own stop. */
export interface AmendStaleBillingInput {
  lifecycleId: string;
  /** ISO time of the start (its Timestamp); absent in workflows scheduled before it was sent. */
  startedAt?: string;
  /** ISO time of the stop (its Timestamp): the row's new stopped_at. */
  stoppedAt: string;
  /** Every segment of the lifecycle, those opened by updates after the stale deadline too. */
  segments: BillingSegment[];
  /** Epoch ms of the stop's Timestamp: the billed period's new end. */
  endMs: number;
}

// Log lines operators may match on: the stale ones keep the wording they had before other reasons.
const amendmentLog = {
  staleStop: {
    amended: 'stale billing amended to the task’s own stop',
    already_amended: 'stale billing already amended',
  },
  earlierTimestamp: {
    amended: 'billing amended to earlier-signed originals',
    already_amended: 'billing already amended to earlier-signed originals',
  },
} as const;

const ZERO: BillingResult = {
  billableSeconds: 0,
  billableMinutes: 0,
  lines: [],
  currency: 'CNY',
  totalCost: 0,
};

export function createBillingActivities(
  deps: Pick<ActivityDeps, 'db' | 'prices' | 'unknownResolutionTier' | 'logger'>,
) {
  const { db, prices, unknownResolutionTier, logger } = deps;

  function compute(input: Pick<FinalizeBillingInput, 'lifecycleId' | 'billable' | 'segments' | 'endMs'>) {
    if (!input.billable) return ZERO;
    if (typeof input.endMs !== 'number' || !Number.isFinite(input.endMs)) {
      throw ApplicationFailure.nonRetryable(
        `billable lifecycle ${input.lifecycleId} has no valid endMs (${String(input.endMs)})`,
        NonRetryableErrorType.InvalidBillingInput,
      );
    }
    if (!Array.isArray(input.segments)) {
      throw ApplicationFailure.nonRetryable(
        `billable lifecycle ${input.lifecycleId} has no segments array`,
        NonRetryableErrorType.InvalidBillingInput,
      );
    }
    try {
      return computeBilling(input.segments, input.endMs, prices, { unknownResolutionTier });
    } catch (err) {
      // computeBilling is pure: the same input fails the same way on every retry.
      throw ApplicationFailure.create({
        message: `billing computation failed for lifecycle ${input.lifecycleId}: ${errorMessage(err)}`,
        type: NonRetryableErrorType.BillingComputationFailed,
        nonRetryable: true,
        cause: err instanceof Error ? err : undefined,
      });
    }
  }

  /**
   * Finalizes the lifecycle's billing once. Any later call with the same lifecycleId (a retry after
   * a crash, a duplicate workflow step, a changed price table) writes nothing and returns the record
   * stored first.
   */
  async function finalizeBilling(input: FinalizeBillingInput): Promise<BillingRecord> {
    let stored = await db.ledger.get(input.lifecycleId);
    let inserted = false;
    if (!stored) {
      const result = compute(input);
      const outcome = await db.ledger.finalize({
        lifecycleId: input.lifecycleId,
        workflowId: input.workflowId,
        appId: input.appId,
        taskId: input.taskId,
        userId: input.userId,
        status: input.billable ? 'finalized' : 'not_billable',
        startedAt: input.startedAt,
        stoppedAt: input.stoppedAt,
        billableSeconds: result.billableSeconds,
        billableMinutes: result.billableMinutes,
        lines: result.lines,
        currency: result.currency,
        totalCost: result.totalCost,
      });
      stored = outcome.record;
      inserted = outcome.inserted;
    }
    logger.info(
      {
        lifecycleId: stored.lifecycleId,
        appId: stored.appId,
        taskId: stored.taskId,
        status: stored.status,
        billableSeconds: stored.billableSeconds,
        billableMinutes: stored.billableMinutes,
        totalCost: stored.totalCost,
        currency: stored.currency,
        lines: stored.lines,
        inserted,
      },
      inserted ? 'billing finalized' : 'billing already finalized',
    );
    return stored;
  }

  /**
   * Replaces a finalized bill with the one computed from the input, once per reason: a retry,
   * after a crash or a lost reply, finds the amendment done and returns the stored record unchanged.
   */
  async function amendBilling(input: AmendBillingInput): Promise<BillingRecord> {
    const result = compute({ ...input, billable: true });
    const outcome = await db.ledger.amend({
      lifecycleId: input.lifecycleId,
      reason: input.reason,
      startedAt: input.startedAt,
      stoppedAt: input.stoppedAt,
      billableSeconds: result.billableSeconds,
      billableMinutes: result.billableMinutes,
      lines: result.lines,
      totalCost: result.totalCost,
    });
    if (!('record' in outcome)) {
      throw ApplicationFailure.nonRetryable(
        `lifecycle ${input.lifecycleId} has ${outcome.kind === 'not_found' ? 'no ledger row' : 'a not-billable ledger row'} to amend`,
        NonRetryableErrorType.BillingNotAmendable,
      );
    }
    const stored = outcome.record;
    logger.info(
      {
        lifecycleId: stored.lifecycleId,
        appId: stored.appId,
        taskId: stored.taskId,
        reason: input.reason,
        startedAt: stored.startedAt,
        stoppedAt: stored.stoppedAt,
        billableSeconds: stored.billableSeconds,
        billableMinutes: stored.billableMinutes,
        totalCost: stored.totalCost,
        currency: stored.currency,
        lines: stored.lines,
        revision: stored.revision,
      },
      amendmentLog[input.reason === 'stale_stop' ? 'staleStop' : 'earlierTimestamp'][outcome.kind],
    );
    return stored;
  }

  /** A stale bill replaced by the bill to the task's own stop (workflows scheduled it by this name). */
  async function amendStaleBilling(input: AmendStaleBillingInput): Promise<BillingRecord> {
    return amendBilling({ ...input, reason: 'stale_stop' });
  }

  return { finalizeBilling, amendBilling, amendStaleBilling };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
