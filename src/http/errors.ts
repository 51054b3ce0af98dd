/**
 * JSON responses of the HTTP layer: `{"ok": true, ...}` / `{"ok": false, "error", "details"}`,
 * the request-scoped context (request id, child logger), the 404 fallback and the final error
 * handler that turns anything thrown into a JSON answer (never a crash, never HTML).
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from '../logger';

export interface ErrorBody {
  ok: false;
  error: string;
  details: unknown[];
  [extra: string]: unknown;
}

/** Default `Retry-After` (seconds) when the failure carries none. */
export const DEFAULT_RETRY_AFTER_SECONDS = 2;

export function sendOk(res: Response, body: Record<string, unknown> = {}, status = 200): void {
  res.status(status).json({ ok: true, ...body });
}

export function sendError(
  res: Response,
  status: number,
  error: string,
  details: unknown[] = [],
  extra: Record<string, unknown> = {},
): void {
  const body: ErrorBody = { ok: false, error, details, ...extra };
  res.status(status).json(body);
}

/** 503 with `Retry-After`: the caller (ZEGO, a client) should come back shortly. */
export function sendUnavailable(res: Response, error: string, retryAfterSeconds?: number): void {
  const seconds =
    retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0
      ? Math.ceil(retryAfterSeconds)
      : DEFAULT_RETRY_AFTER_SECONDS;
  res.set('Retry-After', String(seconds));
  sendError(res, 503, error);
}

// ---------------------------------------------------------------------------------------------
// Request context, kept in res.locals (set by the app's first middleware).

export function setRequestContext(res: Response, requestId: string, log: Logger): void {
  res.locals.requestId = requestId;
  res.locals.log = log;
}

export function requestIdOf(res: Response): string {
  return typeof res.locals.requestId === 'string' ? res.locals.requestId : '';
}

/** The request's child logger (with requestId, and appId/taskId/workflowId once known). */
export function logOf(res: Response): Logger {
  return res.locals.log as Logger;
}

/** Narrows the request's logger with more bindings for the rest of the request. */
export function bindLog(res: Response, bindings: Record<string, unknown>): Logger {
  const log = logOf(res).child(bindings);
  res.locals.log = log;
  return log;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The 4xx status an error asks for (body-parser, URI decoding), or undefined. */
export function clientErrorStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; statusCode?: unknown };
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

export const notFound: RequestHandler = (req, res) => {
  sendError(res, 404, `no route for ${req.method} ${req.path}`);
};

/** Last handler of the app: any error becomes JSON; 4xx keeps its status, the rest is 500. */
export const finalErrorHandler: ErrorRequestHandler = (err, _req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  const log = (res.locals.log as Logger | undefined) ?? undefined;
  const status = clientErrorStatus(err);
  if (status !== undefined) {
    log?.info({ status, err: errorMessage(err) }, 'request rejected');
    sendError(res, status, status === 413 ? 'request body too large' : 'bad request', [errorMessage(err)]);
    return;
  }
  log?.error({ err }, 'unhandled error');
  sendError(res, 500, 'internal error');
};
