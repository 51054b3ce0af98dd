/**
 * The shipped follow-up: POSTs a "task finished" event to TASK_FINISHED_WEBHOOK_URL, with an
 * idempotency key (header and body) so the receiver can drop the repeats retries may cause.
 */
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryableErrorType } from '../../workflows/errors';
import { defineFollowUp, type FollowUp, type FollowUpContext } from './define';

export function taskFinishedWebhook(ctx: FollowUpContext): FollowUp | null {
  const url = ctx.config.taskFinishedWebhookUrl;
  if (!url) return null;
  return defineFollowUp({
    name: 'taskFinishedWebhook',
    startToCloseTimeout: '30s',
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 10 },
    async run({ lifecycle, idempotencyKey }) {
      const body = {
        event: 'task.finished',
        idempotencyKey,
        appId: lifecycle.appId,
        taskId: lifecycle.taskId,
        userId: lifecycle.userId,
        lifecycleId: lifecycle.lifecycleId,
        status: lifecycle.status,
        startedAt: lifecycle.startedAt,
        stoppedAt: lifecycle.stoppedAt,
        durationSeconds: lifecycle.durationSeconds,
        stopReason: lifecycle.stopReason,
        billing: lifecycle.billing,
      };
      let res: Response;
      try {
        res = await ctx.fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
      } catch (err) {
        throw new Error(`task-finished webhook unreachable: ${(err as Error).message}`); // retryable
      }
      await res.body?.cancel();
      if (res.ok) return;
      const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      const message = `task-finished webhook answered HTTP ${res.status}`;
      if (retryable) throw new Error(message);
      throw ApplicationFailure.nonRetryable(message, NonRetryableErrorType.FollowUpRejected, {
        status: res.status,
      });
    },
  });
}
