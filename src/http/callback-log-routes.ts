/**
 * The callback log and the alert log (admin routes, behind the token guard):
 *
 *   GET  /callbacks?status=&appId=&taskId=&limit=&before=   entries, newest first
 *   GET  /callbacks/:id                                      one entry
 *   POST /callbacks/:id/redeliver                            hand it to Temporal again
 *   POST /callbacks/redeliver?status=rejected                the same for every entry of a status
 *   GET  /alerts?kind=&appId=&taskId=&limit=                 alerts, newest first
 *
 * A redelivered entry goes back to `pending` and the relay takes it at once; the lifecycle counts it
 * as one more delivery of a callback it may already have (no effect beyond that). Without the
 * inbox (a lone server without DATABASE_URL) these answer 503 saying so.
 */
import { Router, type Request, type Response } from 'express';
import { INBOX_STATUSES, MAX_LIST_LIMIT, type CallbackInbox, type InboxStatus } from '../store/inbox';
import type { AlertLog } from '../store/types';
import { errorMessage, logOf, sendError, sendOk, sendUnavailable } from './errors';

export interface CallbackLogRoutesDeps {
  inbox?: CallbackInbox;
  alerts?: AlertLog;
  /** Tells the relay there is something to deliver (after a redelivery). */
  onRedeliver?: () => void;
}

interface Problem {
  field: string;
  message: string;
}

const MAX_ID_TEXT = 256;
export const NO_INBOX = 'the callback log needs DATABASE_URL (or npm run dev)';
export const NO_ALERT_LOG = 'the alert log needs DATABASE_URL (or npm run dev)';

function single(req: Request, name: string, problems: Problem[]): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') {
    problems.push({ field: name, message: 'must be given once' });
    return undefined;
  }
  if (value.length > MAX_ID_TEXT) {
    problems.push({ field: name, message: `must be at most ${MAX_ID_TEXT} characters` });
    return undefined;
  }
  return value;
}

function limitOf(req: Request, problems: Problem[]): number | undefined {
  const raw = single(req, 'limit', problems);
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    problems.push({ field: 'limit', message: `must be a whole number from 1 to ${MAX_LIST_LIMIT}` });
    return undefined;
  }
  return n;
}

function statusOf(
  req: Request,
  problems: Problem[],
  allowed: readonly InboxStatus[],
): InboxStatus | undefined {
  const raw = single(req, 'status', problems);
  if (raw === undefined) return undefined;
  if ((allowed as readonly string[]).includes(raw)) return raw as InboxStatus;
  problems.push({
    field: 'status',
    message: `${JSON.stringify(raw.slice(0, 64))} is not one of ${allowed.join(', ')}`,
  });
  return undefined;
}

const ENTRY_ID = /^[1-9]\d{0,18}$/;

function badQuery(res: Response, problems: Problem[]): void {
  sendError(res, 400, `invalid query: ${[...new Set(problems.map((p) => p.field))].join(', ')}`, problems);
}

async function guarded(res: Response, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    logOf(res).error({ err: errorMessage(err) }, `${what} failed`);
    sendUnavailable(res, `${what} failed: the database could not be reached, retry later`);
  }
}

export function callbackLogRouter(deps: CallbackLogRoutesDeps): Router {
  const router = Router();
  const { inbox, alerts } = deps;

  router.get('/callbacks', async (req, res) => {
    if (!inbox) return sendError(res, 503, NO_INBOX);
    const problems: Problem[] = [];
    const status = statusOf(req, problems, INBOX_STATUSES);
    const appId = single(req, 'appId', problems);
    const taskId = single(req, 'taskId', problems);
    const limit = limitOf(req, problems);
    const before = single(req, 'before', problems);
    if (before !== undefined && !ENTRY_ID.test(before))
      problems.push({ field: 'before', message: 'must be an entry id' });
    if (problems.length) return badQuery(res, problems);
    await guarded(res, 'reading the callback log', async () => {
      const entries = await inbox.list({ status, appId, taskId, limit, beforeId: before });
      sendOk(res, { callbacks: entries });
    });
  });

  router.get('/callbacks/:id', async (req, res) => {
    if (!inbox) return sendError(res, 503, NO_INBOX);
    const { id } = req.params as { id: string };
    if (!ENTRY_ID.test(id))
      return sendError(res, 400, 'invalid entry id', [{ field: 'id', message: 'must be an entry id' }]);
    await guarded(res, 'reading the callback log', async () => {
      const entry = await inbox.get(id);
      if (!entry) return sendError(res, 404, `no callback log entry ${id}`);
      sendOk(res, { callback: entry });
    });
  });

  router.post('/callbacks/redeliver', async (req, res) => {
    if (!inbox) return sendError(res, 503, NO_INBOX);
    const problems: Problem[] = [];
    const status = statusOf(req, problems, ['rejected', 'delivered']);
    if (status === undefined && !problems.length)
      problems.push({ field: 'status', message: 'is required (rejected or delivered)' });
    if (problems.length || status === undefined || status === 'pending') return badQuery(res, problems);
    await guarded(res, 'redelivering', async () => {
      const ids = await inbox.redeliverAll(status);
      if (ids.length) deps.onRedeliver?.();
      logOf(res).info({ status, count: ids.length }, 'callbacks handed back to the relay');
      sendOk(res, { redelivered: ids.length, ids });
    });
  });

  router.post('/callbacks/:id/redeliver', async (req, res) => {
    if (!inbox) return sendError(res, 503, NO_INBOX);
    const { id } = req.params as { id: string };
    if (!ENTRY_ID.test(id))
      return sendError(res, 400, 'invalid entry id', [{ field: 'id', message: 'must be an entry id' }]);
    await guarded(res, 'redelivering', async () => {
      const entry = await inbox.redeliver(id);
      if (!entry) return sendError(res, 404, `no callback log entry ${id}`);
      deps.onRedeliver?.();
      logOf(res).info({ id, workflowId: entry.workflowId }, 'callback handed back to the relay');
      sendOk(res, { callback: entry });
    });
  });

  router.get('/alerts', async (req, res) => {
    if (!alerts) return sendError(res, 503, NO_ALERT_LOG);
    const problems: Problem[] = [];
    const kind = single(req, 'kind', problems);
    const appId = single(req, 'appId', problems);
    const taskId = single(req, 'taskId', problems);
    const limit = limitOf(req, problems) ?? 100;
    if (problems.length) return badQuery(res, problems);
    await guarded(res, 'reading the alert log', async () => {
      const list = await alerts.list({ kind, appId, taskId, limit, newestFirst: true });
      sendOk(res, { alerts: list });
    });
  });

  return router;
}
