/**
 * Alerts the HTTP server raises itself (the worker's go through activities): recorded once per key
 * in the alert log, logged at warn by whichever replica inserted the row, and POSTed to
 * ALERT_WEBHOOK_URL in the background with bounded retries (the same policy as the worker's:
 * exponential from 2 s to 5 min, 12 attempts; `Retry-After` honoured), the delivery state kept in
 * the row. Only the replica that inserted the row (or resolved it: the all-clear) delivers it. A
 * replica that stops mid-retry leaves the delivery `pending` in the log.
 */
import type { Logger } from '../logger';
import type { AlertDelivery, AlertEntry, AlertLog, AlertMessage, StoredAlert } from '../store/types';
import { alertWebhookBody, describeWebhook, postAlertWebhook, webhookKeyOf } from './webhook';

export interface AlertRaiserOptions {
  alerts: AlertLog;
  logger: Logger;
  webhookUrl?: string;
  fetch?: typeof fetch;
  /** Retries of one POST. Default 12, from 2 s doubling to 5 min. */
  maxAttempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export class AlertRaiser {
  private readonly pending = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly opts: AlertRaiserOptions) {}

  /** Records the alert (once per key) and, when this call inserted it, delivers it. */
  async raise(alert: AlertEntry): Promise<StoredAlert> {
    const { alert: stored, inserted } = await this.opts.alerts.record(alert);
    if (!inserted) return stored;
    this.opts.logger.warn(
      {
        kind: stored.kind,
        appId: stored.appId,
        taskId: stored.taskId,
        workflowId: stored.workflowId,
        key: stored.key,
        details: stored.details,
      },
      `alert ${stored.kind}: ${stored.reason}`,
    );
    if (!this.opts.webhookUrl) {
      await this.mark(stored.key, 'not_configured', undefined, 'alert', this.opts.logger);
      return { ...stored, delivery: 'not_configured' };
    }
    const delivery = this.deliver(stored).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
    return stored;
  }

  /**
   * Resolves the alert (the first resolution wins) and, when this call resolved it, delivers its
   * all-clear (the alert's body plus `resolved: true`, keyed `<key>:resolved`).
   */
  async resolve(key: string, resolution: string, resolvedAt = new Date().toISOString()): Promise<boolean> {
    const { resolved } = await this.opts.alerts.resolve(key, resolution, resolvedAt);
    if (!resolved) return false;
    const stored = await this.opts.alerts.get(key);
    if (!stored) return true;
    this.opts.logger.info(
      { kind: stored.kind, key, resolution },
      `alert ${stored.kind} resolved: ${resolution}`,
    );
    if (!this.opts.webhookUrl) {
      await this.mark(key, 'not_configured', undefined, 'resolution', this.opts.logger);
      return true;
    }
    const delivery = this.deliver(stored, 'resolution').finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
    return true;
  }

  /** Stops retrying (an undelivered alert stays `pending` in the log); waits for POSTs under way. */
  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.pending]);
  }

  private async deliver(alert: StoredAlert, message: AlertMessage = 'alert'): Promise<void> {
    const url = this.opts.webhookUrl as string;
    const maxAttempts = this.opts.maxAttempts ?? 12;
    const key = webhookKeyOf(alert, message);
    const log = this.opts.logger.child({ key, kind: alert.kind, webhook: describeWebhook(url) });
    let delayMs = this.opts.initialDelayMs ?? 2_000;
    for (let attempt = 1; ; attempt++) {
      const result = await postAlertWebhook(url, alertWebhookBody(alert, message), key, {
        fetch: this.opts.fetch,
      });
      if (result.kind === 'delivered') {
        await this.mark(alert.key, 'delivered', undefined, message, log);
        log.info(
          { status: result.status },
          message === 'alert' ? 'alert delivered' : 'alert all-clear delivered',
        );
        return;
      }
      if (result.kind === 'rejected' || attempt >= maxAttempts) {
        await this.mark(alert.key, 'failed', `${result.error} (attempt ${attempt})`, message, log);
        log.error({ err: result.error, attempt }, 'alert webhook did not take the alert');
        return;
      }
      if (this.stopping.signal.aborted) return;
      log.warn({ err: result.error, attempt }, 'alert webhook unavailable; will retry');
      const wait = result.kind === 'retryable' && result.retryAfterMs ? result.retryAfterMs : delayMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.stopping.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), {
          once: true,
        });
      });
      if (this.stopping.signal.aborted) return;
      delayMs = Math.min(delayMs * 2, this.opts.maxDelayMs ?? 5 * 60_000);
    }
  }

  private async mark(
    key: string,
    delivery: AlertDelivery,
    error: string | undefined,
    message: AlertMessage,
    log: Logger,
  ) {
    try {
      await this.opts.alerts.markDelivery(key, delivery, error, message);
    } catch (err) {
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'could not record the alert delivery',
      );
    }
  }
}
