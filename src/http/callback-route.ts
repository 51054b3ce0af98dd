/**
 * POST /zego/callback: raw body (any content type, 64 KiB) → readCallback (decode, verify,
 * validate) → the recorder (the inbox, or Temporal itself without a database) → the answer.
 *
 * Status mapping (contract): accepted/duplicate/ignored 200; unsigned, stale or a nonce replayed
 * with another body 401; unreadable or invalid 400; over 64 KiB 413; not recorded within
 * `handoffTimeoutMs` (from the request's start: every hop included, also a database that accepts a
 * connection and never answers) 503 + Retry-After. Nothing but a 200 follows a successful record.
 * Every outcome's status, metric and log line comes from one table (OUTCOMES).
 */
import { trace } from '@opentelemetry/api';
import express, { Router, type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import { lifecycleWorkflowId } from '../../workflows/definitions';
import { beforeDeadline } from '../deadline';
import type { Logger } from '../logger';
import { readCallback, type CallbackReadResult } from '../zego/callback';
import {
  bindLog,
  clientErrorStatus,
  errorMessage,
  logOf,
  sendError,
  sendOk,
  sendUnavailable,
} from './errors';
import { callbackEventLabel, type CallbackOutcome, type HttpMetrics } from './metrics';
import { TemporalUnavailableError, type CallbackRecorder, type RecordOutcome } from './ports';

export const CALLBACK_PATH = '/zego/callback';
export const CALLBACK_BODY_LIMIT = '64kb';
/** Used when no HANDOFF_TIMEOUT is given (tests of the app alone). */
export const DEFAULT_HANDOFF_TIMEOUT_MS = 5_000;

export interface CallbackRouteDeps {
  recorder: CallbackRecorder;
  metrics: HttpMetrics;
  secrets: readonly string[];
  maxSkewMs: number;
  now?: () => number;
  /** HANDOFF_TIMEOUT: the longest a callback request may take before the answer is 503. */
  handoffTimeoutMs?: number;
}

type Level = 'info' | 'warn' | 'error';

type Reply =
  | { ok: Record<string, unknown> }
  | { error: string; details?: unknown[]; extra?: Record<string, unknown>; retryAfterSeconds?: number };

interface OutcomeRow {
  status: number;
  metric: CallbackOutcome;
  level: Level;
  log: string;
}

/** Every way a callback request ends. */
const OUTCOMES = {
  unreadable: { status: 400, metric: 'unreadable', level: 'info', log: 'callback unreadable' },
  unsigned: { status: 401, metric: 'unsigned', level: 'warn', log: 'callback rejected: not authentic' },
  invalid: { status: 400, metric: 'invalid', level: 'info', log: 'callback invalid' },
  unknown_event: {
    status: 200,
    metric: 'ignored',
    level: 'info',
    log: 'callback ignored: event not handled',
  },
  nonce_reused: {
    status: 401,
    metric: 'unsigned',
    level: 'warn',
    log: 'callback rejected: nonce already used with a different body (replayed signature)',
  },
  accepted: { status: 200, metric: 'accepted', level: 'info', log: 'callback recorded' },
  duplicate: { status: 200, metric: 'duplicate', level: 'info', log: 'callback recorded (a repeat)' },
  duplicate_after_close: {
    status: 200,
    metric: 'duplicate_after_close',
    level: 'info',
    log: 'callback belongs to a closed lifecycle',
  },
  refused: {
    status: 400,
    metric: 'invalid',
    level: 'error',
    log: 'Temporal refused the callback for good (no inbox to park it in)',
  },
  unavailable: {
    status: 503,
    metric: 'unavailable',
    level: 'warn',
    log: 'callback not recorded in time: refused with 503',
  },
} as const satisfies Record<string, OutcomeRow>;

/** Milliseconds since the handler started (kept in res.locals), one decimal. */
function msSince(res: Response): number | undefined {
  const started = res.locals.callbackStartedNs as bigint | undefined;
  return started === undefined ? undefined : Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
}

export function callbackRouter(deps: CallbackRouteDeps): Router {
  const now = deps.now ?? Date.now;
  const { metrics, recorder } = deps;
  const handoffTimeoutMs = deps.handoffTimeoutMs ?? DEFAULT_HANDOFF_TIMEOUT_MS;
  const unavailableMessage =
    recorder.mode === 'inbox'
      ? 'the callback could not be recorded (database unavailable), retry later'
      : 'Temporal unavailable, retry later';

  /** Counts, logs and answers one outcome; the status comes from OUTCOMES. */
  const finish = (
    res: Response,
    kind: keyof typeof OUTCOMES,
    event: string | null | undefined,
    log: Logger,
    fields: Record<string, unknown>,
    reply: Reply,
  ) => {
    const row: OutcomeRow = OUTCOMES[kind];
    metrics.callbacks.inc({ event: callbackEventLabel(event), outcome: row.metric });
    // This line is the callback's access log too (the app's own is at debug for this route).
    log[row.level]({ ...fields, httpStatus: row.status, ms: msSince(res) }, row.log);
    if ('ok' in reply) sendOk(res, reply.ok, row.status);
    else if (row.status === 503) sendUnavailable(res, reply.error, reply.retryAfterSeconds);
    else sendError(res, row.status, reply.error, reply.details ?? [], reply.extra);
  };

  const handle: RequestHandler = async (req, res) => {
    res.locals.callbackStartedNs = process.hrtime.bigint();
    const deadlineAt = Date.now() + handoffTimeoutMs;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result: CallbackReadResult = readCallback(body, req.get('content-type'), {
      secrets: deps.secrets,
      maxSkewMs: deps.maxSkewMs,
      now,
    });
    const log = logOf(res);

    switch (result.kind) {
      case 'unreadable':
        return finish(
          res,
          'unreadable',
          null,
          log,
          { error: result.error, details: result.details, bytes: body.length },
          {
            error: result.error,
            details: result.details,
          },
        );
      case 'unsigned':
        return finish(
          res,
          'unsigned',
          null,
          log,
          { error: result.error, code: result.code },
          {
            error: result.error,
            details: [result.code],
            extra: { code: result.code },
          },
        );
      case 'invalid':
        return finish(
          res,
          'invalid',
          result.event,
          log,
          { event: result.event, error: result.error, details: result.details },
          {
            error: result.error,
            details: result.details,
          },
        );
      case 'unknown_event':
        return finish(
          res,
          'unknown_event',
          result.event,
          bindLog(res, { appId: result.appId }),
          { event: result.event },
          {
            ok: { outcome: 'ignored', event: result.event },
          },
        );
      case 'transcode':
        break;
      default: {
        const unexpected: never = result;
        throw new Error(`unexpected readCallback result ${JSON.stringify(unexpected)}`);
      }
    }

    const { callback, fingerprint, timestampMs } = result;
    // Computed once, carried forward: the lifecycle's identity and this delivery's time.
    const workflowId = lifecycleWorkflowId(callback.appId, callback.taskId);
    const receivedAt = new Date(now()).toISOString();
    const tlog = bindLog(res, { appId: callback.appId, taskId: callback.taskId, workflowId });
    const { event } = callback;
    const about = { event, status: callback.status, sequence: callback.sequence };
    // The request's span, when tracing is on (src/telemetry.ts); a no-op otherwise.
    trace.getActiveSpan()?.setAttributes({
      'zego.app_id': callback.appId,
      'zego.task_id': callback.taskId,
      'zego.event': event,
      'temporal.workflow_id': workflowId,
    });

    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let outcome: RecordOutcome;
    try {
      outcome = await beforeDeadline(
        recorder.record(
          {
            callback,
            fingerprint,
            workflowId,
            receivedAt,
            // Bound for as long as the timestamp stays acceptable (either side of now).
            nonceExpiresAtMs: timestampMs + 2 * deps.maxSkewMs,
          },
          deadlineAt,
        ),
        deadlineAt,
        () =>
          new TemporalUnavailableError(
            `${recorder.mode === 'inbox' ? 'the database' : 'Temporal'} did not answer in time`,
          ),
      );
    } catch (err) {
      metrics.handoffDuration.observe({ outcome: 'unavailable' }, elapsed());
      const known = err instanceof TemporalUnavailableError;
      return finish(
        res,
        'unavailable',
        event,
        tlog,
        { ...about, err: known ? errorMessage(err) : err },
        {
          error: unavailableMessage,
          retryAfterSeconds: known ? err.retryAfterSeconds : undefined,
        },
      );
    }
    if (outcome.kind === 'nonce_reused') {
      return finish(
        res,
        'nonce_reused',
        event,
        tlog,
        { ...about, timestamp: callback.timestamp },
        {
          error: 'nonce already used with a different body',
          details: ['nonce_reused'],
          extra: { code: 'nonce_reused' },
        },
      );
    }
    if (outcome.kind === 'refused') {
      return finish(
        res,
        'refused',
        event,
        tlog,
        { ...about, err: outcome.error },
        {
          error: 'Temporal refused this callback for good',
          details: [outcome.error],
          extra: { code: 'refused_by_temporal' },
        },
      );
    }
    metrics.handoffDuration.observe(
      { outcome: outcome.kind === 'duplicate_after_close' ? outcome.kind : 'accepted' },
      elapsed(),
    );
    const { kind, workflowId: wf, entryId, runId, newLifecycle } = outcome;
    finish(
      res,
      kind,
      event,
      tlog,
      { ...about, outcome: kind, entryId, runId, newLifecycle },
      {
        ok: { outcome: kind, workflowId: wf, ...(entryId ? { callbackId: entryId } : {}) },
      },
    );
  };

  /** Errors of the body reader (too large, aborted, unsupported encoding) as JSON. */
  const bodyErrors: ErrorRequestHandler = (err, _req, res, next) => {
    const status = clientErrorStatus(err);
    if (status === undefined || res.headersSent) {
      next(err);
      return;
    }
    const log = logOf(res);
    if (status === 413) {
      metrics.callbacks.inc({ event: callbackEventLabel(null), outcome: 'too_large' });
      log.info({ limit: CALLBACK_BODY_LIMIT }, 'callback rejected: body too large');
      sendError(res, 413, `request body over ${CALLBACK_BODY_LIMIT.replace('kb', ' KiB')}`, [
        errorMessage(err),
      ]);
      return;
    }
    // The contract has one status for an unreadable body (400), whatever the reader's own (e.g. 415).
    metrics.callbacks.inc({ event: callbackEventLabel(null), outcome: 'unreadable' });
    log.info({ status, err: errorMessage(err) }, 'callback body could not be read');
    sendError(res, 400, 'request body could not be read', [errorMessage(err)]);
  };

  const router = Router();
  router.post(
    CALLBACK_PATH,
    express.raw({ type: () => true, limit: CALLBACK_BODY_LIMIT }),
    bodyErrors, // only runs when the body reader failed
    handle,
  );
  return router;
}
