/**
 * The `callback_backlog` alert: raised when the oldest pending inbox entry is older than
 * CALLBACK_BACKLOG_ALERT_AFTER (Temporal has been away, or cannot keep up), resolved with its
 * all-clear once the backlog has drained (nothing pending older than half the threshold: the
 * margin keeps an alert from flapping at the edge).
 *
 * Every replica watches the same inbox, so they agree on the episode: while an unresolved backlog
 * alert exists nobody raises another, and a new one is keyed by the oldest pending entry's id, so
 * replicas raising at the same moment write one row (the alert log keeps one row per key).
 */
import type { AlertRaiser } from '../alerts/raiser';
import type { Logger } from '../logger';
import type { InboxStats } from '../store/inbox';
import type { AlertLog, StoredAlert } from '../store/types';

export const BACKLOG_ALERT_KIND = 'callback_backlog';

export interface BacklogAlertOptions {
  alerts: AlertLog;
  raiser: AlertRaiser;
  thresholdMs: number;
  logger: Logger;
}

export class BacklogAlert {
  constructor(private readonly opts: BacklogAlertOptions) {}

  private async open(): Promise<StoredAlert | undefined> {
    const recent = await this.opts.alerts.list({ kind: BACKLOG_ALERT_KIND, limit: 5, newestFirst: true });
    return recent.find((a) => a.resolvedAt === null);
  }

  /** One reading of the inbox: raise, resolve, or nothing. */
  async onStats(stats: InboxStats): Promise<void> {
    const ageMs = stats.oldestPendingAgeSeconds * 1000;
    const over = stats.pending > 0 && ageMs >= this.opts.thresholdMs;
    const drained = stats.pending === 0 || ageMs < this.opts.thresholdMs / 2;
    if (!over && !drained) return;
    const open = await this.open();
    if (over && !open && stats.oldestPendingId) {
      const minutes = Math.floor(ageMs / 60_000);
      await this.opts.raiser.raise({
        key: `${BACKLOG_ALERT_KIND}:${stats.oldestPendingId}`,
        kind: BACKLOG_ALERT_KIND,
        appId: '',
        taskId: '',
        userId: '',
        workflowId: '',
        lifecycleId: '',
        reason:
          `${stats.pending} callback(s) wait in the inbox; the oldest was received ${minutes > 0 ? `${minutes} min` : `${Math.round(ageMs / 1000)} s`} ago ` +
          '(Temporal away or behind; they are safe and will be delivered)',
        occurredAt: new Date(Date.now() - ageMs).toISOString(),
        details: {
          pending: stats.pending,
          oldestPendingAgeSeconds: Math.round(stats.oldestPendingAgeSeconds),
          oldestPendingId: stats.oldestPendingId,
          thresholdSeconds: this.opts.thresholdMs / 1000,
        },
      });
    } else if (drained && open) {
      await this.opts.raiser.resolve(
        open.key,
        stats.pending === 0
          ? 'the inbox drained: every callback was delivered'
          : `the backlog drained: the oldest pending callback is ${Math.round(stats.oldestPendingAgeSeconds)} s old`,
      );
    }
  }
}
