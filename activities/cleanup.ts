/** Active-task registry upkeep: a lifecycle registers itself when it starts and removes itself at the end. */
import type { TranscodeInput, TranscodeOutput } from '../src/zego/types';
import type { ActivityDeps } from './index';

export interface RegisterActiveTaskInput {
  appId: string;
  taskId: string;
  userId: string;
  workflowId: string;
  lifecycleId: string;
  startedAt: string | null;
  input: TranscodeInput | null;
  outputs: TranscodeOutput[];
}

export interface CleanupTaskInput {
  appId: string;
  taskId: string;
  lifecycleId: string;
}

export function createCleanupActivities(deps: Pick<ActivityDeps, 'db' | 'logger'>) {
  const { db, logger } = deps;

  /** Adds (or refreshes) this lifecycle's registry row. Idempotent. */
  async function registerActiveTask(input: RegisterActiveTaskInput): Promise<void> {
    await db.registry.register({
      appId: input.appId,
      taskId: input.taskId,
      userId: input.userId,
      workflowId: input.workflowId,
      lifecycleId: input.lifecycleId,
      startedAt: input.startedAt,
      input: input.input,
      outputs: input.outputs,
    });
    logger.info(
      {
        lifecycleId: input.lifecycleId,
        appId: input.appId,
        taskId: input.taskId,
        startedAt: input.startedAt,
      },
      'active task registered',
    );
  }

  /**
   * Removes the registry row only while it still belongs to this lifecycle (a newer lifecycle of
   * the same task keeps its row). Idempotent: a repeat returns `{ removed: false }`.
   */
  async function cleanupTask(input: CleanupTaskInput): Promise<{ removed: boolean }> {
    const removed = await db.registry.remove(input.appId, input.taskId, input.lifecycleId);
    logger.info(
      { lifecycleId: input.lifecycleId, appId: input.appId, taskId: input.taskId, removed },
      'active task cleaned up',
    );
    return { removed };
  }

  return { registerActiveTask, cleanupTask };
}
