/**
 * POST /zego/callback: raw body (any content type, 64 KiB) → readCallback (decode, verify,
 * validate) → nonce binding → hand-off to Temporal through the gateway.
 *
 * Status mapping (contract): accepted/duplicate/ignored 200; unsigned, stale or a nonce replayed
 * with another body 401; unreadable or invalid 400; over 64 KiB 413; Temporal or the nonce store
 * unavailable (or slower than `handoffTimeoutMs`) 503 + Retry-After. Nothing but a 200 follows a
 * successful `deliver`, and nothing that fails before it has changed any state (a nonce binding
 * is not state: an exact retry of the same body still passes).
 */
import { trace } from '@opentelemetry/api';
import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { lifecycleWorkflowId } from '../../workflows/definitions';
import type { Logger } from '../logger';
import type { NonceBinding, NonceStore } from '../store/types';
import { readCallback } from '../zego/callback';
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
import { TemporalUnavailableError, type HandoffOutcome, type LifecycleGateway } from './ports';

export const CALLBACK_PATH = '/zego/callback';
export const CALLBACK_BODY_LIMIT = '64kb';

export interface CallbackRouteDeps {
  gateway: LifecycleGateway;
  nonces: NonceStore;
  metrics: HttpMetrics;
  secrets: readonly string[];
  maxSkewMs: number;
  now?: () => number;
  /**
   * Upper bound for nonce binding + hand-off together; past it the answer is 503 (ZEGO retries,
   * and the workflow dedups should the late hand-off land after all). Unset: the gateway's own
   * deadline (HANDOFF_TIMEOUT) is the only one.
   */
  handoffTimeoutMs?: number;
}

/** Races `promise` against a deadline; the loser's outcome is observed (no unhandled rejection). */
async function withDeadline<T>(
  promise: Promise<T>,
  deadlineAt: number | undefined,
  what: string,
): Promise<T> {
  if (deadlineAt === undefined) return promise;
  const remaining = Math.max(0, deadlineAt - Date.now());
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TemporalUnavailableError(`${what} did not answer in time`)),
      remaining,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function callbackRouter(deps: CallbackRouteDeps): Router {
  const now = deps.now ?? Date.now;
  const { metrics } = deps;
  const count = (event: string | null | undefined, outcome: CallbackOutcome) =>
    metrics.callbacks.inc({ event: callbackEventLabel(event), outcome });

  const handle: RequestHandler = async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result = readCallback(body, req.get('content-type'), {
      secrets: deps.secrets,
      maxSkewMs: deps.maxSkewMs,
      now,
    });
    const log = logOf(res);

    switch (result.kind) {
      case 'unreadable':
        count(null, 'unreadable');
        log.info({ error: result.error, details: result.details, bytes: body.length }, 'callback unreadable');
        sendError(res, 400, result.error, result.details);
        return;
      case 'unsigned':
        count(null, 'unsigned');
        log.warn({ error: result.error, code: result.code }, 'callback rejected: not authentic');
        sendError(res, 401, result.error, [result.code], { code: result.code });
        return;
      case 'invalid':
        count(result.event, 'invalid');
        log.info({ event: result.event, error: result.error, details: result.details }, 'callback invalid');
        sendError(res, 400, result.error, result.details);
        return;
      case 'unknown_event':
        count(result.event, 'ignored');
        bindLog(res, { appId: result.appId }).info(
          { event: result.event },
          'callback ignored: event not handled',
        );
        sendOk(res, { outcome: 'ignored', event: result.event });
        return;
      case 'transcode':
        break;
      default: {
        const unexpected: never = result;
        throw new Error(`unexpected readCallback result ${JSON.stringify(unexpected)}`);
      }
    }

    const { callback, fingerprint, timestampMs } = result;
    const workflowId = lifecycleWorkflowId(callback.appId, callback.taskId);
    const tlog: Logger = bindLog(res, { appId: callback.appId, taskId: callback.taskId, workflowId });
    const event = callback.event;
    // The request's span, when tracing is on (src/telemetry.ts); a no-op otherwise.
    trace.getActiveSpan()?.setAttributes({
      'zego.app_id': callback.appId,
      'zego.task_id': callback.taskId,
      'zego.event': event,
      'temporal.workflow_id': workflowId,
    });
    const deadlineAt = deps.handoffTimeoutMs !== undefined ? Date.now() + deps.handoffTimeoutMs : undefined;

    // 1. Bind the signed (Timestamp, Nonce) to this body, for as long as the timestamp stays fresh.
    let binding: NonceBinding;
    try {
      binding = await withDeadline(
        deps.nonces.bind(
          `${callback.timestamp}:${callback.nonce}`,
          fingerprint,
          timestampMs + 2 * deps.maxSkewMs,
        ),
        deadlineAt,
        'nonce store',
      );
    } catch (err) {
      count(event, 'unavailable');
      tlog.error({ err: errorMessage(err) }, 'nonce store unavailable: callback refused with 503');
      sendUnavailable(res, 'nonce store unavailable, retry later', retryAfterOf(err));
      return;
    }
    if (binding === 'conflict') {
      count(event, 'unsigned');
      tlog.warn(
        { event, sequence: callback.sequence, timestamp: callback.timestamp },
        'callback rejected: nonce already used with a different body (replayed signature)',
      );
      sendError(res, 401, 'nonce already used with a different body', ['nonce_reused'], {
        code: 'nonce_reused',
      });
      return;
    }

    // 2. Hand it to Temporal; only its acknowledgement earns a 200.
    const payload = { ...callback, receivedAt: new Date(now()).toISOString() };
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let outcome: HandoffOutcome;
    try {
      outcome = await withDeadline(deps.gateway.deliver(payload), deadlineAt, 'Temporal');
    } catch (err) {
      metrics.handoffDuration.observe({ outcome: 'unavailable' }, elapsed());
      count(event, 'unavailable');
      const known = err instanceof TemporalUnavailableError;
      tlog[known ? 'warn' : 'error'](
        { err: known ? errorMessage(err) : err, event, sequence: callback.sequence },
        'hand-off to Temporal failed: callback refused with 503',
      );
      sendUnavailable(res, 'Temporal unavailable, retry later', retryAfterOf(err));
      return;
    }
    metrics.handoffDuration.observe({ outcome: outcome.kind }, elapsed());
    count(
      event,
      outcome.kind === 'duplicate_after_close'
        ? 'duplicate_after_close'
        : binding === 'same'
          ? 'duplicate'
          : 'accepted',
    );
    tlog.info(
      {
        event,
        status: callback.status,
        sequence: callback.sequence,
        outcome: outcome.kind,
        repeat: binding === 'same',
        ...(outcome.kind === 'accepted' ? { newLifecycle: outcome.newLifecycle, runId: outcome.runId } : {}),
      },
      'callback handed over',
    );
    sendOk(res, { outcome: outcome.kind, workflowId: outcome.workflowId });
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
      count(null, 'too_large');
      log.info({ limit: CALLBACK_BODY_LIMIT }, 'callback rejected: body too large');
      sendError(res, 413, `request body over ${CALLBACK_BODY_LIMIT.replace('kb', ' KiB')}`, [
        errorMessage(err),
      ]);
      return;
    }
    // The contract has one status for an unreadable body (400), whatever the reader's own (e.g. 415).
    count(null, 'unreadable');
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

function retryAfterOf(err: unknown): number | undefined {
  return err instanceof TemporalUnavailableError ? err.retryAfterSeconds : undefined;
}
