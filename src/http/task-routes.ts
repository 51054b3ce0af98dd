/**
 * Task queries (contract "Task queries"):
 *   GET /apps/:appId/tasks/:taskId   latest lifecycle of that task, 404 if none
 *   GET /tasks/:taskId               the same when the TaskId is unambiguous; 409 listing the apps
 *   GET /tasks?status=&appId=&limit= lifecycles through Temporal visibility
 * A failing gateway (Temporal unreachable) answers 503 + Retry-After.
 */
import { Router, type Request, type Response } from 'express';
import { LIFECYCLE_STATUSES, type LifecycleStatus } from '../../workflows/definitions';
import { bindLog, errorMessage, logOf, sendError, sendOk, sendUnavailable } from './errors';
import { TemporalUnavailableError, type LifecycleGateway } from './ports';

export const MAX_LIST_LIMIT = 1000;
const MAX_ID_LENGTH = 256;

export interface TaskRoutesDeps {
  gateway: LifecycleGateway;
}

interface Problem {
  field: string;
  message: string;
}

/** Runs a gateway call; on failure answers 503 and returns undefined. */
async function viaGateway<T>(
  res: Response,
  what: string,
  call: () => Promise<T>,
): Promise<{ value: T } | undefined> {
  try {
    return { value: await call() };
  } catch (err) {
    const known = err instanceof TemporalUnavailableError;
    logOf(res)[known ? 'warn' : 'error']({ err: known ? errorMessage(err) : err }, `${what} failed`);
    sendUnavailable(res, 'Temporal unavailable, retry later', known ? err.retryAfterSeconds : undefined);
    return undefined;
  }
}

function idProblems(params: Record<string, string>): Problem[] {
  return Object.entries(params)
    .filter(([, v]) => v.length === 0 || v.length > MAX_ID_LENGTH)
    .map(([field]) => ({ field, message: `must be 1–${MAX_ID_LENGTH} characters` }));
}

/** A single string query parameter; arrays (`?a=1&a=2`) and objects are problems. */
function single(req: Request, name: string, problems: Problem[]): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    problems.push({ field: name, message: 'must be given once' });
    return undefined;
  }
  return value;
}

export function parseListQuery(req: Request): {
  filter: { status?: LifecycleStatus; appId?: string; limit?: number };
  problems: Problem[];
} {
  const problems: Problem[] = [];
  const filter: { status?: LifecycleStatus; appId?: string; limit?: number } = {};
  const status = single(req, 'status', problems);
  if (status !== undefined && status !== '') {
    if ((LIFECYCLE_STATUSES as readonly string[]).includes(status)) filter.status = status as LifecycleStatus;
    else
      problems.push({
        field: 'status',
        message: `${JSON.stringify(status.slice(0, 64))} is not a status (${LIFECYCLE_STATUSES.join(', ')})`,
      });
  }
  const appId = single(req, 'appId', problems);
  if (appId !== undefined && appId !== '') {
    if (appId.length > MAX_ID_LENGTH)
      problems.push({ field: 'appId', message: `must be at most ${MAX_ID_LENGTH} characters` });
    else filter.appId = appId;
  }
  const limit = single(req, 'limit', problems);
  if (limit !== undefined && limit !== '') {
    const n = /^\d+$/.test(limit) ? Number(limit) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT)
      problems.push({ field: 'limit', message: `must be a whole number from 1 to ${MAX_LIST_LIMIT}` });
    else filter.limit = n;
  }
  return { filter, problems };
}

export function taskRouter(deps: TaskRoutesDeps): Router {
  const { gateway } = deps;
  const router = Router();

  async function sendTask(res: Response, appId: string, taskId: string): Promise<void> {
    const found = await viaGateway(res, 'getTask', () => gateway.getTask(appId, taskId));
    if (!found) return;
    if (!found.value) {
      sendError(res, 404, 'task not found', [
        { field: 'taskId', message: `no lifecycle of task ${taskId} in app ${appId}` },
      ]);
      return;
    }
    bindLog(res, { workflowId: found.value.workflowId });
    sendOk(res, { ...found.value });
  }

  router.get('/apps/:appId/tasks/:taskId', async (req, res) => {
    const { appId, taskId } = req.params as { appId: string; taskId: string };
    bindLog(res, { appId, taskId });
    const problems = idProblems({ appId, taskId });
    if (problems.length > 0) {
      sendError(res, 400, 'invalid task reference', problems);
      return;
    }
    await sendTask(res, appId, taskId);
  });

  router.get('/tasks/:taskId', async (req, res) => {
    const { taskId } = req.params as { taskId: string };
    bindLog(res, { taskId });
    const problems = idProblems({ taskId });
    if (problems.length > 0) {
      sendError(res, 400, 'invalid task reference', problems);
      return;
    }
    const apps = await viaGateway(res, 'appsForTask', () => gateway.appsForTask(taskId));
    if (!apps) return;
    const distinct = [...new Set(apps.value)].sort();
    if (distinct.length === 0) {
      sendError(res, 404, 'task not found', [{ field: 'taskId', message: `no lifecycle of task ${taskId}` }]);
      return;
    }
    if (distinct.length > 1) {
      sendError(
        res,
        409,
        `task ${taskId} exists in several apps; use /apps/:appId/tasks/:taskId`,
        distinct.map((appId) => ({ appId })),
        { apps: distinct },
      );
      return;
    }
    bindLog(res, { appId: distinct[0] });
    await sendTask(res, distinct[0], taskId);
  });

  router.get('/tasks', async (req, res) => {
    const { filter, problems } = parseListQuery(req);
    if (problems.length > 0) {
      sendError(res, 400, `invalid query: ${problems.map((p) => p.field).join(', ')}`, problems);
      return;
    }
    const tasks = await viaGateway(res, 'list', () => gateway.list(filter));
    if (!tasks) return;
    sendOk(res, { tasks: tasks.value });
  });

  return router;
}
