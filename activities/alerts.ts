/**
 * Alerts: recorded once per idempotency key (log line + alert log row), then delivered to the
 * optional webhook with the same key as `Idempotency-Key`, so a retried POST is recognisable.
 * An alert whose condition ended is resolved once; its all-clear goes to the same webhook through
 * the same delivery code, as the alert's body plus `resolved: true`, keyed `<key>:resolved`.
 */
import { Context, type Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { AlertDelivery, AlertEntry, AlertMessage, StoredAlert } from '../src/store/types';
import type { ActivityDeps } from './index';

export const AlertErrorType = {
  /** The stored alert for a key does not exist (the workflow must record before delivering). */
  AlertNotFound: 'AlertNotFound',
  /** Receiver answered 4xx other than 408/429: retrying the same request will not help. */
  AlertDeliveryRejected: 'AlertDeliveryRejected',
  /** Receiver unreachable, timed out, or answered 408/429/5xx: retryable. */
  AlertDeliveryUnavailable: 'AlertDeliveryUnavailable',
} as const;

export interface DeliverAlertInput {
  key: string;
  /** POST the alert's all-clear instead of the alert (the alert must be resolved). */
  resolved?: boolean;
}

export interface ResolveAlertInput {
  key: string;
  /** How the condition ended, in words. */
  resolution: string;
  /** ISO time it ended. */
  resolvedAt: string;
}

export const DEFAULT_ALERT_TIMEOUT_MS = 10_000;
/** Longest delay honoured from a receiver's `Retry-After`. */
const MAX_RETRY_AFTER_MS = 60 * 60_000;
/** How much of a rejecting receiver's body is kept in the error. */
const MAX_ERROR_BODY_CHARS = 300;

export function createAlertActivities(
  deps: Pick<ActivityDeps, 'db' | 'logger' | 'alertWebhookUrl' | 'fetch' | 'alertTimeoutMs'>,
) {
  const { db, logger, alertWebhookUrl } = deps;
  const timeoutMs = deps.alertTimeoutMs ?? DEFAULT_ALERT_TIMEOUT_MS;
  const webhookTarget = alertWebhookUrl ? describeUrl(alertWebhookUrl) : undefined;

  /**
   * Records the alert once per key and returns what is stored. The warn-level log line is written by
   * the call that inserts the row; repeats return the stored alert unchanged.
   */
  async function recordAlert(alert: AlertEntry): Promise<StoredAlert> {
    const { alert: stored, inserted } = await db.alerts.record(alert);
    if (inserted) {
      logger.warn(
        {
          kind: stored.kind,
          appId: stored.appId,
          taskId: stored.taskId,
          userId: stored.userId,
          workflowId: stored.workflowId,
          lifecycleId: stored.lifecycleId,
          reason: stored.reason,
          occurredAt: stored.occurredAt,
          key: stored.key,
          details: stored.details,
        },
        `alert ${stored.kind}: ${stored.reason}`,
      );
    }
    if (!alertWebhookUrl && stored.delivery === 'pending') {
      await db.alerts.markDelivery(stored.key, 'not_configured');
      return { ...stored, delivery: 'not_configured' };
    }
    return stored;
  }

  /**
   * Marks the alert resolved (the first resolution wins) and returns what is stored; without a
   * webhook the all-clear's delivery is 'not_configured'. Idempotent like `recordAlert`.
   */
  async function resolveAlert(input: ResolveAlertInput): Promise<StoredAlert> {
    let resolved: boolean;
    try {
      ({ resolved } = await db.alerts.resolve(input.key, input.resolution, input.resolvedAt));
    } catch (err) {
      if (!(await db.alerts.get(input.key))) {
        throw ApplicationFailure.nonRetryable(
          `no alert recorded with key ${input.key}`,
          AlertErrorType.AlertNotFound,
        );
      }
      throw err;
    }
    const stored = (await db.alerts.get(input.key))!;
    if (resolved) {
      logger.info(
        {
          kind: stored.kind,
          appId: stored.appId,
          taskId: stored.taskId,
          lifecycleId: stored.lifecycleId,
          key: stored.key,
          resolvedAt: stored.resolvedAt,
        },
        `alert ${stored.kind} resolved: ${stored.resolution}`,
      );
    }
    if (!alertWebhookUrl && stored.resolutionDelivery === 'pending') {
      await db.alerts.markDelivery(stored.key, 'not_configured', undefined, 'resolution');
      return { ...stored, resolutionDelivery: 'not_configured' };
    }
    return stored;
  }

  /**
   * POSTs the stored alert (or, with `resolved`, its all-clear) to the webhook. 2xx → 'delivered';
   * 408/429/5xx, network errors and timeouts → retryable failure; any other status → 'failed' and a
   * non-retryable failure.
   */
  async function deliverAlert(input: DeliverAlertInput): Promise<{ delivery: AlertDelivery }> {
    if (!alertWebhookUrl) return { delivery: 'not_configured' };
    const { key } = input;
    const message: AlertMessage = input.resolved ? 'resolution' : 'alert';

    const alert = await db.alerts.get(key);
    if (!alert || (message === 'resolution' && alert.resolvedAt === null)) {
      throw ApplicationFailure.nonRetryable(
        `no ${message === 'alert' ? '' : 'resolved '}alert recorded with key ${key}`,
        AlertErrorType.AlertNotFound,
      );
    }
    const current = message === 'alert' ? alert.delivery : alert.resolutionDelivery;
    if (current === 'delivered') return { delivery: 'delivered' };

    const idempotencyKey = message === 'alert' ? key : `${key}:resolved`;
    const body = JSON.stringify({
      kind: alert.kind,
      appId: alert.appId,
      taskId: alert.taskId,
      userId: alert.userId,
      workflowId: alert.workflowId,
      lifecycleId: alert.lifecycleId,
      reason: alert.reason,
      occurredAt: alert.occurredAt,
      recordedAt: alert.createdAt,
      idempotencyKey,
      details: alert.details ?? {},
      ...(message === 'resolution'
        ? { resolved: true, resolvedAt: alert.resolvedAt, resolution: alert.resolution }
        : {}),
    });
    const log = logger.child({
      key: idempotencyKey,
      kind: alert.kind,
      appId: alert.appId,
      taskId: alert.taskId,
      webhook: webhookTarget,
    });
    const what = message === 'alert' ? 'alert' : 'alert all-clear';

    const timeout = AbortSignal.timeout(timeoutMs);
    const cancellation = activityCancellationSignal();
    const signal = cancellation ? AbortSignal.any([timeout, cancellation]) : timeout;
    const doFetch = deps.fetch ?? fetch;

    let response: Response;
    try {
      response = await doFetch(alertWebhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body,
        signal,
      });
    } catch (err) {
      if (cancellation?.aborted) throw cancellation.reason ?? err;
      const failure = timeout.aborted ? `timed out after ${timeoutMs} ms` : `failed: ${describeError(err)}`;
      log.warn({ err: describeError(err) }, `alert webhook ${failure}`);
      await markFailedOnLastAttempt(key, `alert webhook ${failure}`, message);
      throw ApplicationFailure.create({
        message: `alert webhook ${failure}`,
        type: AlertErrorType.AlertDeliveryUnavailable,
        nonRetryable: false,
      });
    }

    const status = response.status;
    if (status >= 200 && status < 300) {
      await response.body?.cancel().catch(() => undefined);
      await db.alerts.markDelivery(key, 'delivered', undefined, message);
      log.info({ status }, `${what} delivered`);
      return { delivery: 'delivered' };
    }

    const snippet = await readSnippet(response);
    if (cancellation?.aborted) throw cancellation.reason;
    const error = `HTTP ${status}${snippet ? `: ${snippet}` : ''}`;
    if (status === 408 || status === 429 || status >= 500) {
      log.warn({ status, response: snippet }, 'alert webhook unavailable; will retry');
      await markFailedOnLastAttempt(key, error, message);
      throw ApplicationFailure.create({
        message: `alert webhook answered ${error}`,
        type: AlertErrorType.AlertDeliveryUnavailable,
        nonRetryable: false,
        details: [{ status }],
        nextRetryDelay: retryAfterMs(response.headers.get('retry-after')),
      });
    }
    await db.alerts.markDelivery(key, 'failed', error, message);
    log.error({ status, response: snippet }, `alert webhook rejected the ${what}`);
    throw ApplicationFailure.nonRetryable(
      `alert webhook rejected ${what} ${idempotencyKey}: ${error}`,
      AlertErrorType.AlertDeliveryRejected,
      { status },
    );
  }

  /**
   * A retryable failure leaves the stored alert 'pending' (a concurrent attempt may have delivered it);
   * only when Temporal will not retry again (last of `maximumAttempts`) is it marked 'failed'.
   */
  async function markFailedOnLastAttempt(key: string, error: string, message: AlertMessage): Promise<void> {
    const info = activityInfo();
    const maxAttempts = info?.retryPolicy?.maximumAttempts;
    if (!info || !maxAttempts || info.attempt < maxAttempts) return;
    try {
      await db.alerts.markDelivery(
        key,
        'failed',
        `${error} (attempt ${info.attempt} of ${maxAttempts})`,
        message,
      );
    } catch (err) {
      logger.error({ key, err: describeError(err) }, 'could not mark alert delivery failed');
    }
  }

  return { recordAlert, resolveAlert, deliverAlert };
}

function activityInfo(): Info | undefined {
  try {
    return Context.current().info;
  } catch {
    return undefined;
  }
}

/** The running activity's cancellation signal; undefined when called outside an activity (tests, scripts). */
function activityCancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

async function readSnippet(response: Response): Promise<string> {
  try {
    const text = await response.text();
    return text.trim().slice(0, MAX_ERROR_BODY_CHARS);
  } catch {
    return '';
  }
}

/** `Retry-After` (delta-seconds or HTTP date) → ms, capped; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - Date.now();
  }
  if (!(ms > 0)) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** Origin only: webhook URLs often carry tokens in their path or query. */
function describeUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '<invalid url>';
  }
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : '';
  return causeText && causeText !== err.message ? `${err.message} (${causeText})` : err.message;
}
