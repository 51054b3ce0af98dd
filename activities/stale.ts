/** Stops a stale task through ZEGO's StopCloudTranscode, when this worker has ZEGO API credentials. */
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryableErrorType } from '../workflows/errors';
import { isTaskNotFound, ZegoApiError, type ZegoApiClient } from '../src/zego/api-client';
import type { ActivityDeps } from './deps';

export interface StopStaleTaskInput {
  appId: string;
  taskId: string;
  userId: string;
  /** Sequence for the stop request: must exceed every Sequence of the task. */
  sequence: number;
}

export type StopStaleTaskResult = { outcome: 'stop_requested' | 'not_configured' | 'not_running' };

export function createStaleActivities(deps: Pick<ActivityDeps, 'zegoApi' | 'logger'>) {
  const { logger } = deps;

  async function stopStaleTask(input: StopStaleTaskInput): Promise<StopStaleTaskResult> {
    const api: ZegoApiClient | null | undefined = deps.zegoApi;
    // One set of credentials serves one AppId: other apps' tasks are only alerted.
    if (!api || api.appId !== input.appId) return { outcome: 'not_configured' };
    try {
      await api.stopCloudTranscode({ TaskId: input.taskId, UserId: input.userId, Sequence: input.sequence });
      logger.warn({ appId: input.appId, taskId: input.taskId }, 'stale task: StopCloudTranscode requested');
      return { outcome: 'stop_requested' };
    } catch (err) {
      if (isTaskNotFound(err)) return { outcome: 'not_running' };
      if (err instanceof ZegoApiError && !err.retryable) {
        throw ApplicationFailure.nonRetryable(err.message, NonRetryableErrorType.ZegoApiRejected, {
          code: err.code,
        });
      }
      throw err;
    }
  }

  return { stopStaleTask };
}
