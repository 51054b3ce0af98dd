/**
 * The main queue's traffic, shared by the sections that measure on it: blocks of whole lifecycles,
 * the count of what they handed over, waiting until the worker has billed all of it (no backlog
 * between runs), inbox deliveries, and CPU time per callback.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { cpuSecondsOf } from '../../tools/process/proc-stats';
import { waitForCount } from '../../tools/process/poll';
import type { LoadResult } from './load';
import { startCallbacks, stopCallbacks, type Callback, type Stack } from './stack';

export const MAIN_QUEUE = 'bench-main';

export class Traffic {
  /** Lifecycles handed over completely (start and stop acknowledged) per appId. */
  private readonly completed = new Map<string, number>();

  constructor(
    private readonly stack: Stack,
    private readonly log: (line: string) => void,
  ) {}

  /** PostgreSQL, which the inbox measurements count rows in. */
  get pool(): Pool {
    if (!this.stack.pool) throw new Error('the inbox benchmarks need PostgreSQL (TEST_POSTGRES_URL)');
    return this.stack.pool;
  }

  /**
   * `n` callbacks making n/2 whole lifecycles, the starts first, then their stops (billable for
   * START_AGE_SECONDS each), so that lifecycles close (linger 2 s) and the worker never holds a growing pile
   * of running ones: a benchmark block leaves nothing behind.
   */
  block(appId: string, prefix: string, n: number): Callback[] {
    const m = Math.max(1, Math.floor(n / 2));
    const nowSeconds = Math.floor(Date.now() / 1000);
    return [
      ...startCallbacks(appId, prefix, m, { nowSeconds }),
      ...stopCallbacks(appId, prefix, m, { startNowSeconds: nowSeconds }),
    ];
  }

  handedOver(appId: string, res: LoadResult, n: number): void {
    // Every callback of the block was acknowledged, or its lifecycle will not be billed: then the
    // settle below would wait for nothing. Count only blocks that fully went through.
    if (res.ok === n) this.completed.set(appId, (this.completed.get(appId) ?? 0) + Math.floor(n / 2));
  }

  /** Waits until the worker has billed every lifecycle handed over so far. */
  async settle(timeoutMs = 120_000): Promise<void> {
    if (!this.stack.pool) {
      await sleep(5_000);
      return;
    }
    const apps = [...this.completed.keys()];
    const target = [...this.completed.values()].reduce((a, b) => a + b, 0);
    const pool = this.stack.pool;
    const n = await waitForCount(
      async () =>
        Number(
          (await pool.query('SELECT count(*)::int AS n FROM billing_ledger WHERE app_id = ANY($1)', [apps]))
            .rows[0].n,
        ),
      target,
      timeoutMs,
      250,
    );
    if (n < target) this.log(`  (worker still behind: ${n}/${target} billed after ${timeoutMs / 1000} s)`);
  }

  /** Inbox entries of tasks `${prefix}-*` that the relay has handed to Temporal (signal taken). */
  async delivered(appId: string, prefix: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM callback_inbox WHERE app_id = $1 AND task_id LIKE $2 AND status = 'delivered'`,
      [appId, `${prefix}-%`],
    );
    return Number(rows[0].n);
  }

  /** Milliseconds from `since` until `n` entries of `${prefix}-*` are delivered (null: not within the timeout). */
  async deliveredAfter(appId: string, prefix: string, n: number, since: number, timeoutMs: number) {
    const got = await waitForCount(() => this.delivered(appId, prefix), n, timeoutMs, 25);
    return got >= n ? Date.now() - since : null;
  }
}

/** CPU ms per operation of each process since the call: `cpuWatch(pids)(operations)`. */
export function cpuWatch(pids: Record<string, number>): (ops: number) => Record<string, number> {
  const cpu = (pid: number) => {
    try {
      return cpuSecondsOf(pid);
    } catch {
      return NaN; // the process is gone
    }
  };
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpu(p)]));
  return (ops: number) =>
    Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpu(p) - before[k]) * 1000) / ops]));
}
