/**
 * Alerts: recorded once per idempotency key (log line + alert log row), then delivered to the
 * optional webhook with the same key as `Idempotency-Key`, so a retried POST is recognisable.
 * An alert whose condition ended is resolved once; its all-clear goes to the same webhook through
 * the same delivery code, as the alert's body plus `resolved: true`, keyed `<key>:resolved`.
 */
import { Context, type Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { AlertDelivery, AlertEntry, AlertMessage, StoredAlert } from '../src/store/types';
import {
  alertWebhookBody,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  describeError,
  describeWebhook,
  postAlertWebhook,
  webhookKeyOf,
} from '../src/alerts/webhook';
import { NonRetryableErrorType } from '../workflows/errors';
import type { ActivityDeps } from './deps';

export const AlertErrorType = {
  AlertNotFound: NonRetryableErrorType.AlertNotFound,
  AlertDeliveryRejected: NonRetryableErrorType.AlertDeliveryRejected,
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

export const DEFAULT_ALERT_TIMEOUT_MS = DEFAULT_WEBHOOK_TIMEOUT_MS;

export function createAlertActivities(
  deps: Pick<ActivityDeps, 'db' | 'logger' | 'alertWebhookUrl' | 'fetch' | 'alertTimeoutMs'>,
) {
  const { db, logger, alertWebhookUrl } = deps;
  const timeoutMs = deps.alertTimeoutMs ?? DEFAULT_ALERT_TIMEOUT_MS;
  const webhookTarget = alertWebhookUrl ? describeWebhook(alertWebhookUrl) : undefined;

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

    const idempotencyKey = webhookKeyOf(alert, message);
    const log = logger.child({
      key: idempotencyKey,
      kind: alert.kind,
      appId: alert.appId,
      taskId: alert.taskId,
      webhook: webhookTarget,
    });
    const what = message === 'alert' ? 'alert' : 'alert all-clear';
    const cancellation = activityCancellationSignal();
    const result = await postAlertWebhook(alertWebhookUrl, alertWebhookBody(alert, message), idempotencyKey, {
      fetch: deps.fetch,
      timeoutMs,
      signal: cancellation,
    });
    if (cancellation?.aborted) throw cancellation.reason;

    if (result.kind === 'delivered') {
      await db.alerts.markDelivery(key, 'delivered', undefined, message);
      log.info({ status: result.status }, `${what} delivered`);
      return { delivery: 'delivered' };
    }
    if (result.kind === 'retryable') {
      log.warn({ status: result.status, err: result.error }, 'alert webhook unavailable; will retry');
      await markFailedOnLastAttempt(key, `alert webhook ${result.error}`, message);
      throw ApplicationFailure.create({
        message: `alert webhook ${result.status ? 'answered ' : ''}${result.error}`,
        type: AlertErrorType.AlertDeliveryUnavailable,
        nonRetryable: false,
        ...(result.status ? { details: [{ status: result.status }] } : {}),
        nextRetryDelay: result.retryAfterMs,
      });
    }
    await db.alerts.markDelivery(key, 'failed', result.error, message);
    log.error({ status: result.status, err: result.error }, `alert webhook rejected the ${what}`);
    throw ApplicationFailure.nonRetryable(
      `alert webhook rejected ${what} ${idempotencyKey}: ${result.error}`,
      AlertErrorType.AlertDeliveryRejected,
      { status: result.status },
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
