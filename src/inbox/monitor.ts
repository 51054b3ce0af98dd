/**
 * Watches the inbox every few seconds: the pending count, the rejected count and the oldest pending
 * entry's age go to the metrics, and `onStats` (the backlog alert) sees each reading.
 */
import type { Logger } from '../logger';
import type { CallbackInbox, InboxStats } from '../store/inbox';
import type { InboxMetrics } from './metrics';

export interface MonitorOptions {
  inbox: CallbackInbox;
  metrics?: InboxMetrics;
  logger: Logger;
  everyMs?: number;
  onStats?: (stats: InboxStats) => Promise<void>;
}

export class InboxMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  last: InboxStats | undefined;

  constructor(private readonly opts: MonitorOptions) {}

  start(): void {
    const tick = () => {
      this.running ??= this.check().finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.opts.everyMs ?? 5_000);
    this.timer.unref();
  }

  /** One reading; errors are logged (the database may be away: readiness says so). */
  async check(): Promise<InboxStats | undefined> {
    try {
      const stats = await this.opts.inbox.stats();
      this.last = stats;
      this.opts.metrics?.pending.set(stats.pending);
      this.opts.metrics?.rejected.set(stats.rejected);
      this.opts.metrics?.oldestPendingAge.set(stats.oldestPendingAgeSeconds);
      await this.opts.onStats?.(stats);
      return stats;
    } catch (err) {
      this.opts.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'inbox stats unavailable',
      );
      return undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
