/**
 * A population of running lifecycles: a fresh worker (and server) on its own task queue, N start
 * callbacks (no stop) until the worker has registered them all, then the worker's RSS (section 5).
 * Section 4 then stops some of them, on the same worker. A worker that dies is restarted only when
 * the population is still needed for that.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { waitForCount } from '../../tools/process/poll';
import { memoryOf } from '../../tools/process/proc-stats';
import type { Child } from '../../tools/process/service-children';
import type { BenchEnv } from './bench-env';
import { closedLoop, HttpPoster } from './load';
import { CONCURRENCY, RSS_SAMPLES, RSS_SETTLE_SECONDS } from './run-context';
import { startCallbacks } from './stack';
import { spread, type Spread } from './stats';

/** One fresh worker process holding a population of running lifecycles. */
export interface MemoryRun {
  /** `plain`: the bundle of a worker without tracing; `tracing`: with the OpenTelemetry workflow interceptors. */
  bundle: 'plain' | 'tracing';
  /** Its workflow cache size (maxCachedWorkflows), as the worker logged it at start. */
  cacheSize: number;
  /** Tracing as the worker logged it at start: `off` or the service name. */
  tracing: string;
  lifecycles: number;
  running: number;
  baselineRss: number;
  rss: Spread;
  /** The same samples RSS_SETTLE_SECONDS after the last registration, the worker idle (absent in older runs). */
  settledRss?: Spread;
  peakRss: number;
  startRate: number;
  registerSeconds: number;
  /** The worker died during the run: its figures are those from just before. */
  crash: { registered: number; error: string; rssBefore: number } | null;
}

export interface Population {
  queue: string;
  appId: string;
  /** The start callbacks' clock (their stops are stamped against it). */
  nowSeconds: number;
  poster: HttpPoster;
  pool: Pool;
  memory: MemoryRun;
  /** `SELECT count(*)::int AS n …`; past a crash without restart: MAX_SAFE_INTEGER (nothing more comes). */
  count(sql: string, params: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export async function startPopulation(
  env: BenchEnv,
  opts: {
    queue: string;
    appId: string;
    population: number;
    bundle: 'plain' | 'tracing';
    /** The worker's extra environment (e.g. WORKER_MAX_CACHED_WORKFLOWS); undefined leaves a variable out. */
    env?: Record<string, string | undefined>;
    /** Restart a worker that dies (the population is needed afterwards). */
    restart: boolean;
  },
): Promise<Population> {
  const { stack, log } = env;
  const pool = stack.pool;
  if (!pool) throw new Error('the lifecycle benchmarks need PostgreSQL (TEST_POSTGRES_URL) to count rows');
  const { population, queue, appId, restart } = opts;
  let crash: MemoryRun['crash'] = null;
  const count = async (sql: string, params: unknown[]) => {
    // A crashed worker that is not restarted ends the waiting (nothing more will be registered).
    if (crash && !restart) return Number.MAX_SAFE_INTEGER;
    return Number((await pool.query(sql, params)).rows[0].n);
  };
  const registeredSql = 'SELECT count(*)::int AS n FROM active_tasks WHERE app_id = $1';
  // Compiled, as shipped: what the worker holds, not what tsx adds to it.
  const start = () => stack.startWorker(queue, opts.env ?? {}, { bundle: opts.bundle, compiled: true });
  let worker = await start();
  const startedWith = workerStartedWith(worker);
  log(
    `  worker ${worker.pid}: ${opts.bundle} bundle, maxCachedWorkflows ${startedWith.cacheSize}, tracing ${startedWith.tracing}`,
  );
  let stopping = false;
  let lastRss = 0;
  const supervise = (w: Child) =>
    void w.exited.then(async () => {
      if (stopping || crash) return;
      const lines = w.output().split('\n');
      const error =
        lines.find((l) => /^(Error|FATAL|fatal)|has become corrupted|out of memory/i.test(l)) ??
        lines.filter(Boolean).at(-1) ??
        '';
      const registeredAtCrash = await count(registeredSql, [appId]).catch(() => -1);
      crash = { registered: registeredAtCrash, error: error.slice(0, 300), rssBefore: lastRss };
      log(`  worker ${w.pid} died after ${registeredAtCrash} registrations: ${error.slice(0, 160)}`);
      if (!restart) return;
      worker = await start();
      log(`  restarted as ${worker.pid} (for section 4; section 5 reports the crash)`);
    });
  supervise(worker);
  const rssProbe = setInterval(() => {
    try {
      lastRss = memoryOf(worker.pid).rss;
    } catch {
      // between a crash and its restart
    }
  }, 1000);
  const { child: server, url } = await stack.startServer(queue);
  const poster = new HttpPoster(`${url}/zego/callback`, CONCURRENCY);
  const close = async () => {
    stopping = true;
    clearInterval(rssProbe);
    poster.close();
    await server.kill();
    await worker.kill();
  };
  try {
    await sleep(3_000);
    const baselineRss = memoryOf(worker.pid).rss;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const starts = startCallbacks(appId, 'life', population, { nowSeconds });
    const t0 = Date.now();
    const res = await closedLoop(population, CONCURRENCY, (i) =>
      poster.post(starts[i].body, starts[i].contentType),
    );
    log(`  ${res.ok}/${population} lifecycles started at ${res.throughput.toFixed(0)}/s`);
    const registered = await waitForCount(() => count(registeredSql, [appId]), population, 600_000, 500);
    const registerSeconds = (Date.now() - t0) / 1000;
    const crashed = crash as MemoryRun['crash'];
    if (!crashed) log(`  ${registered} registered by the worker after ${registerSeconds.toFixed(0)} s`);
    const running = (
      await stack.client.workflow.count(`TaskQueue = '${queue}' AND ExecutionStatus = 'Running'`)
    ).count;
    const registeredAt = Date.now();
    const rss: number[] = [];
    const settledRss: number[] = [];
    let peakRss = 0;
    if (crashed) {
      // The figures of the worker that crashed, not of its replacement.
      rss.push(crashed.rssBefore);
      peakRss = crashed.rssBefore;
    } else {
      for (let i = 0; i < RSS_SAMPLES; i++) {
        await sleep(1_000);
        rss.push(memoryOf(worker.pid).rss);
      }
      peakRss = memoryOf(worker.pid).peakRss;
      // A worker that dies meanwhile leaves no settled figure (a replacement is not the same worker).
      const sampled = worker;
      const alive = () => sampled === worker && sampled.alive();
      await sleep(Math.max(0, registeredAt + RSS_SETTLE_SECONDS * 1000 - Date.now()));
      for (let i = 0; i < RSS_SAMPLES && alive(); i++) {
        if (i) await sleep(1_000);
        try {
          settledRss.push(memoryOf(sampled.pid).rss);
        } catch {
          break; // exited between the check and the read
        }
      }
      if (!alive() || settledRss.length < RSS_SAMPLES) settledRss.length = 0;
    }
    const memory: MemoryRun = {
      bundle: opts.bundle,
      cacheSize: startedWith.cacheSize,
      tracing: startedWith.tracing,
      lifecycles: res.ok,
      running,
      baselineRss,
      rss: spread(rss),
      ...(settledRss.length ? { settledRss: spread(settledRss) } : {}),
      peakRss,
      crash: crashed,
      startRate: res.throughput,
      registerSeconds,
    };
    log(
      crashed
        ? `  worker crashed at RSS ${(crashed.rssBefore / 2 ** 20).toFixed(0)} MiB`
        : `  worker RSS ${(memory.rss.median / 2 ** 20).toFixed(0)} MiB holding ${running} running lifecycles` +
            (memory.settledRss
              ? `, ${(memory.settledRss.median / 2 ** 20).toFixed(0)} MiB ${RSS_SETTLE_SECONDS} s later`
              : ''),
    );
    return { queue, appId, nowSeconds, poster, pool, memory, count, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The cache size and tracing a worker logged at start ("worker started", src/main/worker.ts). */
function workerStartedWith(w: Child): { cacheSize: number; tracing: string } {
  const line = w
    .output()
    .split('\n')
    .find((l) => l.includes('worker started'));
  try {
    const fields = JSON.parse(line ?? '') as { maxCachedWorkflows?: unknown; tracing?: unknown };
    return { cacheSize: Number(fields.maxCachedWorkflows), tracing: String(fields.tracing) };
  } catch {
    return { cacheSize: NaN, tracing: 'unknown' };
  }
}

/**
 * The SDK's own default `maxCachedWorkflows` for a worker process on this machine, computed as
 * node_modules/@temporalio/worker/lib/worker-options.js does (reuseV8Context) from the V8 heap
 * limit of a process started as the worker is: this node binary, no heap flags, no NODE_OPTIONS
 * (spawnChild drops it).
 */
export function sdkDefaultCache(): { cacheSize: number; heapLimitMiB: number } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS'));
  const limit = Number(
    execFileSync(process.execPath, [path.join(__dirname, 'heap-limit.js')], { env })
      .toString()
      .trim(),
  );
  const heapLimitMiB = limit / 2 ** 20;
  const cacheSize = Math.max(Math.floor((Math.max(heapLimitMiB - 200, 0) * 600) / 1024), 10);
  if (!Number.isFinite(cacheSize))
    throw new Error(`could not read the V8 heap limit of a node process (${limit})`);
  return { cacheSize, heapLimitMiB };
}
