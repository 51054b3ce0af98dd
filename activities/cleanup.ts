/** Active-task registry upkeep: a lifecycle registers itself when it starts and removes itself at the end. */
import type { ActiveTask } from '../src/store/types';
import type { ActivityDeps } from './deps';

/** The registry row of a lifecycle that has started. */
export type RegisterActiveTaskInput = Omit<ActiveTask, 'registeredAt'>;

export interface CleanupTaskInput {
  appId: string;
  taskId: string;
  lifecycleId: string;
}

export function createCleanupActivities(deps: Pick<ActivityDeps, 'db' | 'logger'>) {
  const { db, logger } = deps;

  /** Adds (or refreshes) this lifecycle's registry row. Idempotent. */
  async function registerActiveTask(input: RegisterActiveTaskInput): Promise<void> {
    await db.registry.register(input);
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
