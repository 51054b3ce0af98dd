/**
 * Alerts the HTTP server raises itself (the worker's go through activities): recorded once per key
 * in the alert log, logged at warn by whichever replica inserted the row, and POSTed to
 * ALERT_WEBHOOK_URL in the background with bounded retries (the same policy as the worker's:
 * exponential from 2 s to 5 min, 12 attempts; `Retry-After` honoured), the delivery state kept in
 * the row. Only the replica that inserted the row delivers it.
 */
import type { Logger } from '../logger';
import type { AlertEntry, AlertLog, StoredAlert } from '../store/types';
import { alertWebhookBody, describeWebhook, postAlertWebhook } from './webhook';

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
      await this.opts.alerts.markDelivery(stored.key, 'not_configured');
      return { ...stored, delivery: 'not_configured' };
    }
    const delivery = this.deliver(stored).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
    return stored;
  }

  /** Stops retrying (an undelivered alert stays `pending` in the log); waits for POSTs under way. */
  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.pending]);
  }

  private async deliver(alert: StoredAlert): Promise<void> {
    const url = this.opts.webhookUrl as string;
    const maxAttempts = this.opts.maxAttempts ?? 12;
    const log = this.opts.logger.child({ key: alert.key, kind: alert.kind, webhook: describeWebhook(url) });
    let delayMs = this.opts.initialDelayMs ?? 2_000;
    for (let attempt = 1; ; attempt++) {
      const result = await postAlertWebhook(url, alertWebhookBody(alert), alert.key, {
        fetch: this.opts.fetch,
      });
      if (result.kind === 'delivered') {
        await this.mark(alert.key, 'delivered', undefined, log);
        log.info({ status: result.status }, 'alert delivered');
        return;
      }
      if (result.kind === 'rejected' || attempt >= maxAttempts) {
        await this.mark(alert.key, 'failed', `${result.error} (attempt ${attempt})`, log);
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

  private async mark(key: string, delivery: StoredAlert['delivery'], error: string | undefined, log: Logger) {
    try {
      await this.opts.alerts.markDelivery(key, delivery, error);
    } catch (err) {
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'could not record the alert delivery',
      );
    }
  }
}
