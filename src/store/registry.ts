/**
 * Active-task registry: one row per (app_id, task_id), owned by the lifecycle that registered it
 * last. `remove` deletes only while the row still belongs to the given lifecycle, so an old
 * lifecycle's late cleanup cannot remove a newer lifecycle's row.
 */
import type { ActiveTask, ActiveTaskRegistry, Sql } from './types';
import type { TranscodeInput, TranscodeOutput } from '../zego/types';
import { isoSql, jsonParam, parseJson, timestampParam } from './sql';

const REGISTER_SQL = `
  INSERT INTO active_tasks (app_id, task_id, user_id, workflow_id, lifecycle_id, started_at, input, outputs)
  VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7::jsonb, $8::jsonb)
  ON CONFLICT (app_id, task_id) DO UPDATE SET
    user_id = EXCLUDED.user_id,
    workflow_id = EXCLUDED.workflow_id,
    lifecycle_id = EXCLUDED.lifecycle_id,
    started_at = EXCLUDED.started_at,
    input = EXCLUDED.input,
    outputs = EXCLUDED.outputs,
    -- a refresh by the same lifecycle keeps its first registration time
    registered_at = CASE WHEN active_tasks.lifecycle_id = EXCLUDED.lifecycle_id
                         THEN active_tasks.registered_at ELSE EXCLUDED.registered_at END`;

const REMOVE_SQL = `
  DELETE FROM active_tasks WHERE app_id = $1 AND task_id = $2 AND lifecycle_id = $3 RETURNING lifecycle_id`;

const COLUMNS = `app_id, task_id, user_id, workflow_id, lifecycle_id, ${isoSql('started_at')} AS started_at,
  input::text AS input, outputs::text AS outputs, ${isoSql('registered_at')} AS registered_at`;

interface TaskRow {
  app_id: string;
  task_id: string;
  user_id: string;
  workflow_id: string;
  lifecycle_id: string;
  started_at: string | null;
  input: string | null;
  outputs: string;
  registered_at: string;
}

export class SqlActiveTaskRegistry implements ActiveTaskRegistry {
  constructor(private readonly sql: Sql) {}

  async register(task: Omit<ActiveTask, 'registeredAt'>): Promise<void> {
    for (const field of ['appId', 'taskId', 'userId', 'workflowId', 'lifecycleId'] as const) {
      if (typeof task[field] !== 'string') throw new TypeError(`active task ${field} must be a string`);
    }
    await this.sql.query(REGISTER_SQL, [
      task.appId,
      task.taskId,
      task.userId,
      task.workflowId,
      task.lifecycleId,
      timestampParam(task.startedAt, 'active task startedAt'),
      jsonParam(task.input),
      JSON.stringify(Array.isArray(task.outputs) ? task.outputs : []),
    ]);
  }

  async remove(appId: string, taskId: string, lifecycleId: string): Promise<boolean> {
    const { rows } = await this.sql.query(REMOVE_SQL, [appId, taskId, lifecycleId]);
    return rows.length > 0;
  }

  async list(filter: { appId?: string } = {}): Promise<ActiveTask[]> {
    const { rows } =
      filter.appId === undefined
        ? await this.sql.query<TaskRow>(`SELECT ${COLUMNS} FROM active_tasks ORDER BY app_id, task_id`)
        : await this.sql.query<TaskRow>(
            `SELECT ${COLUMNS} FROM active_tasks WHERE app_id = $1 ORDER BY app_id, task_id`,
            [filter.appId],
          );
    return rows.map(toActiveTask);
  }
}

function toActiveTask(row: TaskRow): ActiveTask {
  return {
    appId: row.app_id,
    taskId: row.task_id,
    userId: row.user_id,
    workflowId: row.workflow_id,
    lifecycleId: row.lifecycle_id,
    startedAt: row.started_at,
    input: parseJson<TranscodeInput>(row.input),
    outputs: parseJson<TranscodeOutput[]>(row.outputs) ?? [],
    registeredAt: row.registered_at,
  };
}
