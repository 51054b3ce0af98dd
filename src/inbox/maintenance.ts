/**
 * The inbox's housekeeping, in every server replica: lapsed nonce bindings are swept every minute,
 * delivered entries older than CALLBACK_RETENTION pruned every ten minutes, both in short batches
 * (src/store/inbox.ts) so no replica holds a long lock. Replicas doing it at once only skip each
 * other's locked rows. Timers are unref()ed; `stop()` waits for a run under way.
 */
import type { Logger } from '../logger';
import type { CallbackInbox } from '../store/inbox';

export interface MaintenanceOptions {
  inbox: CallbackInbox;
  retentionMs: number;
  logger: Logger;
  now?: () => number;
  nonceSweepEveryMs?: number;
  pruneEveryMs?: number;
}

export class InboxMaintenance {
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<unknown> | undefined;

  constructor(private readonly opts: MaintenanceOptions) {}

  start(): void {
    const every = (ms: number, job: () => Promise<unknown>, first = ms) => {
      const tick = () => {
        if (this.running) return;
        this.running = job()
          .catch((err: unknown) =>
            this.opts.logger.warn(
              { err: err instanceof Error ? err.message : String(err) },
              'inbox housekeeping failed; will retry',
            ),
          )
          .finally(() => (this.running = undefined));
      };
      const kickoff = setTimeout(() => {
        tick();
        const t = setInterval(tick, ms);
        t.unref();
        this.timers.push(t);
      }, first);
      kickoff.unref();
      this.timers.push(kickoff);
    };
    const now = this.opts.now ?? Date.now;
    every(this.opts.nonceSweepEveryMs ?? 60_000, () => this.opts.inbox.sweepNonces(now()));
    // Replicas started together should not all prune in the same minute.
    const pruneEvery = this.opts.pruneEveryMs ?? 10 * 60_000;
    every(pruneEvery, () => this.prune(), Math.round(pruneEvery * (0.1 + Math.random() * 0.9)));
  }

  async prune(): Promise<number> {
    const n = await this.opts.inbox.prune(this.opts.retentionMs);
    if (n > 0) this.opts.logger.info({ pruned: n }, 'delivered callbacks past CALLBACK_RETENTION pruned');
    return n;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    await this.running;
  }
}
