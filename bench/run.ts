/**
 * `npm run bench [-- --quick]`: every figure of bench/RESULTS.md, measured in one run against one
 * Temporal dev server, and the chart bench/latency.svg. Sections (each repeated, median and spread):
 *
 *  1. verify-and-parse: readCallback per callback vs a bare JSON.parse of the same body (µs);
 *  2. limit vs ingest: raw signal-with-start (TemporalLifecycleGateway.deliver from a plain client)
 *     and signed callbacks through POST /zego/callback, same concurrency, alternated; CPU per call;
 *  3. latency against offered rate (open loop), p50/p99, the chart;
 *  4. end to end: N lifecycles from their stop callbacks to billing finalized, vs the dev server's
 *     raw workflow-completion throughput (`benchTrivial` on the same worker);
 *  5. memory: the worker's RSS (a child process) holding running lifecycles: as shipped (plain
 *     bundle, WORKER_MAX_CACHED_WORKFLOWS default) and before (the SDK's default cache), 10,000
 *     each, and a tracing worker (tracing bundle, tracing on), 1,000;
 *  6. where the server's CPU goes (a --cpu-prof of the HTTP server under load);
 *  7. why `npm run dev` acknowledged slowly: one change at a time, the dev server's SQLite journal
 *     as shipped (WAL) and as before (bench/lib/dev-mode.ts).
 *
 * `--only 5,7` measures only those sections (3 brings 2 along, whose rate it uses; 4 brings 5, whose
 * population it stops). Only loopback traffic; every loop is bounded in count and time. ~40 min in
 * full (the two 10,000-lifecycle populations of section 5), much less with --quick.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { format as prettierFormat, resolveConfig } from 'prettier';
import { cpuSecondsOf, memoryOf } from '../tools/process/proc-stats';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnServer, type Child } from '../tools/process/service-children';
import { waitForCount } from '../tools/process/poll';
import { latencyChart } from './lib/chart';
import { DEV_SERVER_SQLITE_PRAGMAS } from '../tools/temporal-dev-server/args';
import { freePort } from '../tools/process/ports';
import { devModeInvestigation, type DevVariantResult } from './lib/dev-mode';
import { closedLoop, HttpPoster, inTurn, openLoop, type LoadResult } from './lib/load';
import { summarizeProfileDir, type ProfileSummary } from './lib/profile';
import {
  payloadOf,
  SERVICE_ENV,
  type Callback,
  startCallbacks,
  startStack,
  stopCallbacks,
  type Stack,
} from './lib/stack';
import { formatSpread, median, percentile, spread, type Spread } from './lib/stats';
import { benchVerify, type VerifyResult } from './lib/verify';
import { searchAttributes } from '../workflows/definitions';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(__dirname) },
    'skip-dev': { type: 'boolean', default: false },
    /** Comma-separated section numbers to measure (default: all). */
    only: { type: 'string' },
    /** Re-render RESULTS.md and latency.svg from a results.json, without measuring. */
    render: { type: 'string' },
  },
});
const QUICK = args.quick === true;
const ALL_SECTIONS = [1, 2, 3, 4, 5, 6, 7];
/** The sections to measure: --only, plus what they need (3 needs 2's maximum rate, 4 needs 5's population). */
const SECTIONS = (() => {
  if (args.only === undefined) return ALL_SECTIONS;
  const picked = new Set(String(args.only).split(',').filter(Boolean).map(Number));
  const unknown = [...picked].filter((n) => !ALL_SECTIONS.includes(n));
  if (unknown.length > 0 || picked.size === 0)
    throw new Error(`--only ${String(args.only)}: sections are ${ALL_SECTIONS.join(', ')}`);
  if (picked.has(3)) picked.add(2);
  if (picked.has(4)) picked.add(5);
  if (args['skip-dev']) picked.delete(7);
  return ALL_SECTIONS.filter((n) => picked.has(n));
})();
const want = (section: number) => SECTIONS.includes(section);
const OUT_DIR = path.resolve(String(args.out));
const CONCURRENCY = 20;
/** Section 2 again with enough in flight to saturate the machine: throughput is then bounded by CPU, not latency. */
const SATURATING_CONCURRENCY = 100;

const SIZES = QUICK
  ? {
      verify: { iterations: 5_000, runs: 3 },
      pairs: { runs: 3, n: 200 },
      sweep: { fractions: [0.25, 0.5, 1], seconds: 3, runs: 2 },
      e2e: { n: 200, runs: 2 },
      memory: { n: 1_000 },
      tracing: { n: 300 },
      profile: { n: 200 },
      dev: { n: 120 },
    }
  : {
      verify: { iterations: 5_000, runs: 7 },
      pairs: { runs: 4, n: 400 },
      sweep: { fractions: [0.25, 0.5, 0.75, 1, 1.25], seconds: 4, runs: 2 },
      e2e: { n: 1_000, runs: 2 },
      memory: { n: 10_000 },
      tracing: { n: 1_000 },
      profile: { n: 500 },
      dev: { n: 250 },
    };

const MAIN_QUEUE = 'bench-main';
const started = Date.now();
const log = (line: string) =>
  process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);

// ---------------------------------------------------------------------------------------------

interface PairResult {
  raw: Spread;
  ingest: Spread;
  ratio: Spread;
  rawP50: Spread;
  ingestP50: Spread;
  ingestP99: Spread;
  /** CPU ms per operation, per process (median over runs). */
  cpuPerOpRaw: Record<string, number>;
  cpuPerOpIngest: Record<string, number>;
  loadAverage: number[];
}

interface SweepPoint {
  fraction: number;
  rate: number;
  achieved: Spread;
  p50: Spread;
  p99: Spread;
  non2xx: number;
  /** Raw signal-with-start offered at the same rate, alternated with the HTTP runs. */
  raw: { p50: Spread; p99: Spread };
}

interface E2eResult {
  n: number;
  lifecycles: Spread;
  trivial: Spread;
  ratio: Spread;
  stopIngest: Spread;
  billedCorrectly: boolean[];
}

/** One fresh worker process holding a population of running lifecycles (section 5). */
interface MemoryRun {
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
  peakRss: number;
  startRate: number;
  registerSeconds: number;
  /** The worker died during the run: its figures are those from just before (restarted only for section 4). */
  crash: { registered: number; error: string; rssBefore: number } | null;
}

interface MemoryResults {
  /** After: the worker as shipped (plain bundle, tracing off, WORKER_MAX_CACHED_WORKFLOWS unset). */
  shipped: MemoryRun;
  /** Before: the same, with WORKER_MAX_CACHED_WORKFLOWS set to the SDK's own default (the old cache). */
  sdkDefault: MemoryRun;
  /** A tracing worker: the tracing bundle, tracing on, WORKER_MAX_CACHED_WORKFLOWS unset. */
  tracing: MemoryRun;
  /** The SDK's default maxCachedWorkflows for a worker process here, and the V8 heap limit it comes from. */
  sdkDefaultCache: { cacheSize: number; heapLimitMiB: number };
  /** What the tracing worker exported to the bench's OTLP collector (which discards it). */
  traceExports: { requests: number; bytes: number };
}

type ServerProfile = ProfileSummary & { requests: number; windowMs: number };

/** Each section's figures; null when the section was not measured (--only, --skip-dev, a failed profile). */
interface Results {
  verify: VerifyResult[] | null;
  pairs: PairResult | null;
  /** Section 2 at SATURATING_CONCURRENCY in flight (absent from results saved before it existed). */
  pairsSaturated?: PairResult | null;
  sweep: SweepPoint[] | null;
  e2e: E2eResult | null;
  memory: MemoryResults | null;
  profile: ServerProfile | null;
  dev: DevVariantResult[] | null;
}

/** Lifecycles handed over completely (start and stop acknowledged) per appId on the main queue. */
const completed = new Map<string, number>();

/**
 * The main queue's traffic: `n` callbacks making n/2 whole lifecycles, the starts first, then their
 * stops (10 billable minutes each), so that lifecycles close (linger 2 s) and the worker never
 * holds a growing pile of running ones: a benchmark block leaves nothing behind.
 */
function lifecycleBlock(appId: string, prefix: string, n: number): Callback[] {
  const m = Math.max(1, Math.floor(n / 2));
  const nowSeconds = Math.floor(Date.now() / 1000);
  return [
    ...startCallbacks(appId, prefix, m, { nowSeconds }),
    ...stopCallbacks(appId, prefix, m, { startNowSeconds: nowSeconds }),
  ];
}

function countCompleted(appId: string, res: LoadResult, n: number): void {
  // Every callback of the block was acknowledged, or its lifecycle will not be billed: then the
  // settle below would wait for nothing. Count only blocks that fully went through.
  if (res.ok === n) completed.set(appId, (completed.get(appId) ?? 0) + Math.floor(n / 2));
}

/** Waits until the worker has billed every lifecycle handed over so far: no backlog between runs. */
async function settle(stack: Stack, timeoutMs = 120_000): Promise<void> {
  if (!stack.pool) {
    await sleep(5_000);
    return;
  }
  const apps = [...completed.keys()];
  const target = [...completed.values()].reduce((a, b) => a + b, 0);
  const pool = stack.pool;
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
  if (n < target) log(`  (worker still behind: ${n}/${target} billed after ${timeoutMs / 1000} s)`);
}

function cpuWatch(pids: Record<string, number>) {
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

async function pairs(
  stack: Stack,
  poster: HttpPoster,
  pids: Record<string, number>,
  concurrency = CONCURRENCY,
): Promise<PairResult> {
  const { runs, n } = SIZES.pairs;
  const gateway = stack.gateway(MAIN_QUEUE);
  const raw: LoadResult[] = [];
  const ingest: LoadResult[] = [];
  const cpuRaw: Record<string, number>[] = [];
  const cpuIngest: Record<string, number>[] = [];
  const loads: number[] = [];

  const runRaw = async (r: number) => {
    const payloads = lifecycleBlock('800001', `raw-c${concurrency}-${r}`, n).map((c) => payloadOf(c));
    await settle(stack);
    const cpu = cpuWatch(pids);
    const res = await closedLoop(payloads.length, concurrency, async (i) => {
      await gateway.deliver(payloads[i]);
      return 'ok';
    });
    // CPU per callback, including the settlement work the block caused (billing of its lifecycles).
    countCompleted('800001', res, payloads.length);
    await settle(stack);
    cpuRaw.push(cpu(payloads.length));
    raw.push(res);
  };
  const runIngest = async (r: number) => {
    const cbs = lifecycleBlock('800002', `ing-c${concurrency}-${r}`, n);
    await settle(stack);
    const cpu = cpuWatch(pids);
    const res = await closedLoop(cbs.length, concurrency, (i) =>
      poster.post(cbs[i].body, cbs[i].contentType),
    );
    countCompleted('800002', res, cbs.length);
    await settle(stack);
    cpuIngest.push(cpu(cbs.length));
    ingest.push(res);
  };

  // Warm-up (JIT, connections, worker caches), not counted.
  await runRaw(-1);
  await runIngest(-1);
  raw.length = ingest.length = cpuRaw.length = cpuIngest.length = 0;

  for (let r = 0; r < runs; r++) {
    loads.push(os.loadavg()[0]);
    await inTurn(
      r,
      () => runRaw(r),
      () => runIngest(r),
    );
    log(
      `  run ${r + 1}/${runs}: raw ${raw[r].throughput.toFixed(0)}/s, ingest ${ingest[r].throughput.toFixed(0)}/s` +
        ` (${JSON.stringify(ingest[r].outcomes)}), load ${loads[r].toFixed(1)}`,
    );
  }
  const medianOf = (rows: Record<string, number>[]) =>
    Object.fromEntries(Object.keys(rows[0]).map((k) => [k, median(rows.map((row) => row[k]))]));
  return {
    raw: spread(raw.map((r) => r.throughput)),
    ingest: spread(ingest.map((r) => r.throughput)),
    ratio: spread(raw.map((r, i) => ingest[i].throughput / r.throughput)),
    rawP50: spread(raw.map((r) => percentile(r.latenciesMs, 0.5))),
    ingestP50: spread(ingest.map((r) => percentile(r.latenciesMs, 0.5))),
    ingestP99: spread(ingest.map((r) => percentile(r.latenciesMs, 0.99))),
    cpuPerOpRaw: medianOf(cpuRaw),
    cpuPerOpIngest: medianOf(cpuIngest),
    loadAverage: loads,
  };
}

async function sweep(stack: Stack, poster: HttpPoster, maxRate: number): Promise<SweepPoint[]> {
  const { fractions, seconds, runs } = SIZES.sweep;
  const gateway = stack.gateway(MAIN_QUEUE);
  const blank = () => ({ achieved: [] as number[], p50: [] as number[], p99: [] as number[], non2xx: 0 });
  const http = fractions.map(blank);
  const raw = fractions.map(blank);
  const record = (into: ReturnType<typeof blank>, res: LoadResult) => {
    into.achieved.push(res.throughput);
    into.p50.push(percentile(res.latenciesMs, 0.5));
    into.p99.push(percentile(res.latenciesMs, 0.99));
    into.non2xx += res.operations - res.ok;
  };
  for (let r = 0; r < runs; r++) {
    for (const [k, fraction] of fractions.entries()) {
      const rate = Math.max(1, maxRate * fraction);
      const n = Math.max(20, Math.round(rate * seconds));
      const runHttp = async () => {
        const cbs = lifecycleBlock('800003', `sw-${r}-${k}`, n);
        await settle(stack, 60_000);
        const res = await openLoop(cbs.length, rate, 500, (i) =>
          poster.post(cbs[i].body, cbs[i].contentType),
        );
        countCompleted('800003', res, cbs.length);
        record(http[k], res);
      };
      const runRaw = async () => {
        const payloads = lifecycleBlock('800005', `swr-${r}-${k}`, n).map((c) => payloadOf(c));
        await settle(stack, 60_000);
        const res = await openLoop(payloads.length, rate, 500, async (i) => {
          await gateway.deliver(payloads[i]);
          return 'ok';
        });
        countCompleted('800005', res, payloads.length);
        record(raw[k], res);
      };
      if ((r + k) % 2 === 0) {
        await runHttp();
        await runRaw();
      } else {
        await runRaw();
        await runHttp();
      }
      log(
        `  run ${r + 1}/${runs} ${(fraction * 100).toFixed(0)}% (${rate.toFixed(0)}/s): HTTP p50 ${http[k].p50.at(-1)?.toFixed(1)} ms,` +
          ` p99 ${http[k].p99.at(-1)?.toFixed(1)} ms; raw p50 ${raw[k].p50.at(-1)?.toFixed(1)} ms, p99 ${raw[k].p99.at(-1)?.toFixed(1)} ms`,
      );
    }
  }
  return fractions.map((fraction, k) => ({
    fraction,
    rate: Math.max(1, maxRate * fraction),
    achieved: spread(http[k].achieved),
    p50: spread(http[k].p50),
    p99: spread(http[k].p99),
    non2xx: http[k].non2xx,
    raw: { p50: spread(raw[k].p50), p99: spread(raw[k].p99) },
  }));
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
function sdkDefaultCache(): { cacheSize: number; heapLimitMiB: number } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS'));
  const limit = Number(
    execFileSync(process.execPath, ['-p', "require('node:v8').getHeapStatistics().heap_size_limit"], { env })
      .toString()
      .trim(),
  );
  const heapLimitMiB = limit / 2 ** 20;
  const cacheSize = Math.max(Math.floor((Math.max(heapLimitMiB - 200, 0) * 600) / 1024), 10);
  if (!Number.isFinite(cacheSize))
    throw new Error(`could not read the V8 heap limit of a node process (${limit})`);
  return { cacheSize, heapLimitMiB };
}

/**
 * Memory, then end to end, on one population: a fresh worker (and server) on its own task queue
 * starts N lifecycles (start callback each, no stop); once the worker has registered them all its
 * RSS is sampled; then, run after run, the stops of 1,000 of them are posted and timed to billing
 * finalized, alternated with the trivial-workflow baseline on the same worker.
 */
async function lifecycles(
  stack: Stack,
  opts: {
    queue: string;
    appId: string;
    population: number;
    bundle: 'plain' | 'tracing';
    /** The worker's extra environment (e.g. WORKER_MAX_CACHED_WORKFLOWS). */
    env?: Record<string, string>;
    e2eRuns: number;
  },
): Promise<{ memory: MemoryRun; e2e: E2eResult | null }> {
  const pool = stack.pool;
  if (!pool) throw new Error('the lifecycle benchmarks need PostgreSQL (TEST_POSTGRES_URL) to count rows');
  const { population, queue, appId } = opts;
  const { n } = SIZES.e2e;
  const runs = opts.e2eRuns;
  // A worker that dies is restarted only when section 4 still needs the population.
  const restart = runs > 0;
  const count = async (sql: string, params: unknown[]) => {
    // A crashed worker that is not restarted ends the waiting (nothing more will be registered).
    if (crash && !restart) return Number.MAX_SAFE_INTEGER;
    return Number((await pool.query(sql, params)).rows[0].n);
  };
  const start = () => stack.startWorker(queue, opts.env ?? {}, { bundle: opts.bundle });
  let worker = await start();
  const startedWith = workerStartedWith(worker);
  log(
    `  worker ${worker.pid}: ${opts.bundle} bundle, maxCachedWorkflows ${startedWith.cacheSize}, tracing ${startedWith.tracing}`,
  );
  let crash: MemoryRun['crash'] = null;
  let stopping = false;
  const supervise = (w: Child) =>
    void w.exited.then(async () => {
      if (stopping || crash) return;
      const lines = w.output().split('\n');
      const error =
        lines.find((l) => /^(Error|FATAL|fatal)|has become corrupted|out of memory/i.test(l)) ??
        lines.filter(Boolean).at(-1) ??
        '';
      const registeredAtCrash = await count('SELECT count(*)::int AS n FROM active_tasks WHERE app_id = $1', [
        appId,
      ]).catch(() => -1);
      crash = { registered: registeredAtCrash, error: error.slice(0, 300), rssBefore: lastRss };
      log(`  worker ${w.pid} died after ${registeredAtCrash} registrations: ${error.slice(0, 160)}`);
      if (!restart) return;
      worker = await start();
      log(`  restarted as ${worker.pid} (for section 4; section 5 reports the crash)`);
    });
  supervise(worker);
  let lastRss = 0;
  const rssProbe = setInterval(() => {
    try {
      lastRss = memoryOf(worker.pid).rss;
    } catch {
      // between a crash and its restart
    }
  }, 1000);
  const { child: server, url } = await stack.startServer(queue);
  const poster = new HttpPoster(`${url}/zego/callback`, CONCURRENCY);
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
    const registered = await waitForCount(
      () => count('SELECT count(*)::int AS n FROM active_tasks WHERE app_id = $1', [appId]),
      population,
      600_000,
      500,
    );
    const registerSeconds = (Date.now() - t0) / 1000;
    const crashed = crash as MemoryRun['crash'];
    if (!crashed) log(`  ${registered} registered by the worker after ${registerSeconds.toFixed(0)} s`);
    const running = (
      await stack.client.workflow.count(`TaskQueue = '${queue}' AND ExecutionStatus = 'Running'`)
    ).count;
    const rss: number[] = [];
    let peakRss = 0;
    if (crashed) {
      // The figures of the worker that crashed, not of its replacement.
      rss.push(crashed.rssBefore);
      peakRss = crashed.rssBefore;
    } else {
      for (let i = 0; i < 5; i++) {
        await sleep(1_000);
        rss.push(memoryOf(worker.pid).rss);
      }
      peakRss = memoryOf(worker.pid).peakRss;
    }
    const memory: MemoryRun = {
      bundle: opts.bundle,
      cacheSize: startedWith.cacheSize,
      tracing: startedWith.tracing,
      lifecycles: res.ok,
      running,
      baselineRss,
      rss: spread(rss),
      peakRss,
      crash: crashed,
      startRate: res.throughput,
      registerSeconds,
    };
    log(
      crashed
        ? `  worker crashed at RSS ${(crashed.rssBefore / 2 ** 20).toFixed(0)} MiB`
        : `  worker RSS ${(memory.rss.median / 2 ** 20).toFixed(0)} MiB holding ${running} running lifecycles`,
    );
    if (runs === 0) return { memory, e2e: null };

    const lifecycleRates: number[] = [];
    const trivialRates: number[] = [];
    const stopIngest: number[] = [];
    const billed: boolean[] = [];
    const runLifecycles = async (r: number) => {
      const stops = stopCallbacks(appId, 'life', n, { from: r * n, startNowSeconds: nowSeconds });
      const tasks = Array.from({ length: n }, (_, i) => `life-${r * n + i}`);
      const t = Date.now();
      const acked = await closedLoop(n, CONCURRENCY, (i) => poster.post(stops[i].body, stops[i].contentType));
      stopIngest.push(acked.throughput);
      const sql = 'SELECT count(*)::int AS n FROM billing_ledger WHERE app_id = $1 AND task_id = ANY($2)';
      const got = await waitForCount(() => count(sql, [appId, tasks]), n, 300_000, 100);
      if (got < n) throw new Error(`e2e: only ${got}/${n} lifecycles billed after 300 s`);
      lifecycleRates.push(n / ((Date.now() - t) / 1000));
      const ok = await count(`${sql} AND status = 'finalized' AND billable_minutes = 10`, [appId, tasks]);
      billed.push(ok === n);
    };
    const runTrivial = async (r: number) => {
      const tag = `trivial-${r}-${Date.now()}`;
      const t = Date.now();
      await closedLoop(n, CONCURRENCY, async (i) => {
        await stack.client.workflow.start('benchTrivial', {
          workflowId: `${tag}-${i}`,
          taskQueue: queue,
          args: [],
          typedSearchAttributes: [{ key: searchAttributes.appId, value: tag }],
        });
        return 'ok';
      });
      const done = async () =>
        (await stack.client.workflow.count(`ZegoAppId = '${tag}' AND ExecutionStatus = 'Completed'`)).count;
      const got = await waitForCount(done, n, 300_000, 200);
      if (got < n) throw new Error(`trivial: only ${got}/${n} completed after 300 s`);
      trivialRates.push(n / ((Date.now() - t) / 1000));
    };
    for (let r = 0; r < runs; r++) {
      await inTurn(
        r,
        () => runLifecycles(r),
        () => runTrivial(r),
      );
      log(
        `  run ${r + 1}/${runs}: ${lifecycleRates[r].toFixed(0)} lifecycles/s, trivial ${trivialRates[r].toFixed(0)} workflows/s`,
      );
    }
    return {
      memory,
      e2e: {
        n,
        lifecycles: spread(lifecycleRates),
        trivial: spread(trivialRates),
        ratio: spread(lifecycleRates.map((l, i) => l / trivialRates[i])),
        stopIngest: spread(stopIngest),
        billedCorrectly: billed,
      },
    };
  } finally {
    stopping = true;
    clearInterval(rssProbe);
    poster.close();
    await server.kill();
    await worker.kill();
  }
}

/** The HTTP server under load with --cpu-prof: where its CPU goes. */
async function serverProfile(stack: Stack): Promise<ServerProfile | null> {
  const dir = path.join(stack.dir, 'server-profile');
  mkdirSync(dir, { recursive: true });
  let server: { child: Child; url: string } | undefined;
  try {
    // The same entry point and settings as the measured server, on the main queue (its worker serves it).
    const port = await freePort();
    const child = await spawnServer(
      {
        PATH: process.env.PATH,
        TEMPORAL_ADDRESS: stack.temporal.address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_CONFIG_FILE: path.join(stack.dir, 'no-temporal.toml'),
        TEMPORAL_TASK_QUEUE: MAIN_QUEUE,
        ...(stack.database.kind === 'postgres' ? { DATABASE_URL: stack.database.url } : {}),
        ...SERVICE_ENV,
        PORT: String(port),
      },
      path.join(dir, 'server.log'),
      { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] },
    );
    server = { child, url: `http://127.0.0.1:${port}` };
    const poster = new HttpPoster(`${server.url}/zego/callback`, CONCURRENCY);
    const warm = lifecycleBlock('800004', 'prof-warm', 100);
    const warmed = await closedLoop(warm.length, CONCURRENCY, (i) =>
      poster.post(warm[i].body, warm[i].contentType),
    );
    countCompleted('800004', warmed, warm.length);
    const cbs = lifecycleBlock('800006', 'prof', SIZES.profile.n);
    await settle(stack, 60_000);
    // Only the load window counts (V8 stamps samples with CLOCK_MONOTONIC, as process.hrtime does).
    const from = Number(process.hrtime.bigint() / 1000n);
    const res = await closedLoop(cbs.length, CONCURRENCY, (i) =>
      poster.post(cbs[i].body, cbs[i].contentType),
    );
    const to = Number(process.hrtime.bigint() / 1000n);
    countCompleted('800006', res, cbs.length);
    poster.close();
    await child.stop(15_000); // SIGTERM: the server exits cleanly and node writes the profile
    const summary = summarizeProfileDir(dir, 12, [from, to]);
    return summary && { ...summary, requests: res.ok, windowMs: (to - from) / 1000 };
  } catch (err) {
    log(`  profile failed: ${(err as Error).message}`);
    await server?.child.kill();
    return null;
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (args.render) {
    const saved = JSON.parse(readFileSync(path.resolve(String(args.render)), 'utf8')) as {
      context: Context;
      results: Results & { shipped?: unknown };
    };
    if (saved.context.quick !== QUICK)
      throw new Error(`that run was ${saved.context.quick ? '' : 'not '}--quick`);
    if (
      saved.results.shipped !== undefined ||
      (saved.results.memory && !('sdkDefault' in saved.results.memory))
    )
      throw new Error(
        `${String(args.render)} is from before section 5 measured the shipped, SDK-default-cache and tracing workers; ` +
          'measure again (npm run bench)',
      );
    await writeOutputs(saved.results, saved.context);
    log(`rendered ${path.join(OUT_DIR, 'RESULTS.md')} from ${String(args.render)}`);
    return;
  }
  log(
    `${QUICK ? 'quick' : 'full'} run on ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(2)}` +
      (SECTIONS.length < ALL_SECTIONS.length ? `, sections ${SECTIONS.join(', ')} only` : ''),
  );
  const loadBefore = os.loadavg();

  let verify: VerifyResult[] | null = null;
  if (want(1)) {
    log('1. verify-and-parse (readCallback) in isolation');
    verify = benchVerify(SIZES.verify);
    for (const v of verify)
      log(
        `  ${v.case}: ${v.readCallback.median.toFixed(1)} µs (JSON.parse ${v.jsonParse.median.toFixed(1)} µs)`,
      );
  }

  const stack = await startStack((line) => log(`  ${line}`));
  const temporal = temporalVersion(stack.cliPath);
  const results: Results = {
    verify,
    pairs: null,
    sweep: null,
    e2e: null,
    memory: null,
    profile: null,
    dev: null,
  };
  try {
    if (want(2) || want(3) || want(6)) {
      // The main queue's worker as shipped: the plain bundle, tracing off, the default workflow cache.
      const worker = await stack.startWorker(MAIN_QUEUE);
      const { child: server, url } = await stack.startServer(MAIN_QUEUE);
      const poster = new HttpPoster(`${url}/zego/callback`, 500);
      const pids = {
        temporal: stack.temporal.process.pid ?? -1,
        worker: worker.pid,
        server: server.pid,
        bench: process.pid,
      };

      if (want(2)) {
        log(`2. limit (raw signal-with-start) vs ingest (POST /zego/callback), ${CONCURRENCY} in flight`);
        results.pairs = await pairs(stack, poster, pids);
        log(`2b. the same with ${SATURATING_CONCURRENCY} in flight (CPU-bound)`);
        results.pairsSaturated = await pairs(stack, poster, pids, SATURATING_CONCURRENCY);
      }
      if (want(3) && results.pairs) {
        log('3. acknowledgement latency against offered rate (open loop)');
        results.sweep = await sweep(stack, poster, results.pairs.ingest.median);
      }
      poster.close();

      if (want(6)) {
        log('6. where the HTTP server spends its CPU (--cpu-prof)');
        results.profile = await serverProfile(stack);
      }
      await server.kill();
      await worker.kill();
    }

    if (want(5)) {
      const sdkCache = sdkDefaultCache();
      log(
        `5a. a tracing worker (tracing bundle, tracing on, default cache) holding ${SIZES.tracing.n} running lifecycles`,
      );
      const { memory: tracing } = await lifecycles(stack, {
        queue: 'bench-tracing',
        appId: '800700',
        population: SIZES.tracing.n,
        bundle: 'tracing',
        e2eRuns: 0,
      });
      const traceExports = stack.traceExports();
      log(
        `  the tracing worker exported ${traceExports.requests} OTLP requests, ${traceExports.bytes} bytes`,
      );
      log(
        `${want(4) ? '4+' : ''}5b. after: the worker as shipped holding ${SIZES.memory.n} running lifecycles` +
          (want(4) ? `, then ${SIZES.e2e.runs} × ${SIZES.e2e.n} of them stopped → billing finalized` : ''),
      );
      const shipped = await lifecycles(stack, {
        queue: 'bench-lifecycles',
        appId: '800900',
        population: SIZES.memory.n,
        bundle: 'plain',
        e2eRuns: want(4) ? SIZES.e2e.runs : 0,
      });
      results.e2e = shipped.e2e;
      log(
        `5c. before: the SDK's default cache (${sdkCache.cacheSize}, from a V8 heap limit of ` +
          `${sdkCache.heapLimitMiB.toFixed(0)} MiB), ${SIZES.memory.n} running lifecycles`,
      );
      const { memory: sdkDefault } = await lifecycles(stack, {
        queue: 'bench-sdk-cache',
        appId: '800800',
        population: SIZES.memory.n,
        bundle: 'plain',
        env: { WORKER_MAX_CACHED_WORKFLOWS: String(sdkCache.cacheSize) },
        e2eRuns: 0,
      });
      results.memory = {
        shipped: shipped.memory,
        sdkDefault,
        tracing,
        sdkDefaultCache: sdkCache,
        traceExports,
      };
    }

    if (want(7)) {
      log('7. `npm run dev` acknowledgement latency: one change at a time');
      results.dev = await devModeInvestigation(stack, { n: SIZES.dev.n, concurrency: CONCURRENCY, log });
    }
  } finally {
    await stack.close();
  }

  const context: Context = {
    date: new Date().toISOString(),
    quick: QUICK,
    sections: SECTIONS,
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    temporal,
    commit: gitDescribe(),
    loadBefore,
    loadAfter: os.loadavg(),
    minutes: (Date.now() - started) / 60_000,
  };
  await writeOutputs(results, context);
  log(
    `wrote ${path.relative(process.cwd(), path.join(OUT_DIR, 'RESULTS.md'))}${results.sweep ? ' and latency.svg' : ''} in ${context.minutes.toFixed(1)} min`,
  );
}

/** RESULTS.md, latency.svg (with section 3) and results.json (the raw figures, which `--render` reads back). */
async function writeOutputs(results: Results, context: Context): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  if (results.sweep) writeFileSync(path.join(OUT_DIR, 'latency.svg'), chart(results.sweep, results.pairs));
  const md = await prettierFormat(report(results, context), {
    ...((await resolveConfig(path.join(OUT_DIR, 'RESULTS.md'))) ?? {}),
    parser: 'markdown',
  });
  writeFileSync(path.join(OUT_DIR, 'RESULTS.md'), md);
  writeFileSync(
    path.join(OUT_DIR, 'results.json'),
    await prettierFormat(JSON.stringify({ context, results }), {
      ...((await resolveConfig(path.join(OUT_DIR, 'results.json'))) ?? {}),
      parser: 'json',
    }),
  );
}

function temporalVersion(cliPath: string): string {
  try {
    return execFileSync(cliPath, ['--version']).toString().trim();
  } catch {
    return 'temporal CLI (version unknown)';
  }
}

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: __dirname }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: __dirname })
      .toString()
      .trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
}

function chart(sweep: SweepPoint[], pairs: PairResult | null): string {
  const pts = (pick: (p: SweepPoint) => Spread) =>
    sweep.map((p) => ({ x: p.rate, y: pick(p).median, yMin: pick(p).min, yMax: pick(p).max }));
  return latencyChart({
    title: 'Acknowledgement latency vs offered rate',
    xLabel: 'offered rate (callbacks/s, open loop)',
    yLabel: 'latency (ms, log scale)',
    series: [
      { name: 'HTTP p50', color: '#1f77b4', points: pts((p) => p.p50) },
      { name: 'HTTP p99', color: '#ff7f0e', points: pts((p) => p.p99) },
      { name: 'raw p50', color: '#2ca02c', dashed: true, points: pts((p) => p.raw.p50) },
      { name: 'raw p99', color: '#9467bd', dashed: true, points: pts((p) => p.raw.p99) },
    ],
    target: { y: 50, label: 'p99 target 50 ms' },
    ...(pairs
      ? { marker: { x: pairs.ingest.median, label: `max ${pairs.ingest.median.toFixed(0)}/s` } }
      : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// RESULTS.md

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const met = (ok: boolean) => (ok ? '**met**' : '**missed**');

function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(String).join(' | ')} |`),
  ].join('\n');
}

interface Context {
  date: string;
  quick: boolean;
  /** The sections measured (absent in a results.json from before --only: all). */
  sections?: number[];
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  temporal: string;
  commit: string;
  loadBefore: number[];
  loadAfter: number[];
  minutes: number;
}

const count = (x: number) => x.toLocaleString('en-US');
const kib = (b: number) => (b / 1024).toFixed(0);

/** Lifecycles a worker held in its cache: those it registered, at most its cache size. */
function cachedOf(m: MemoryRun): number {
  const held = m.crash ? Math.max(0, m.crash.registered) : m.running;
  return Math.max(1, Math.min(held, Number.isFinite(m.cacheSize) ? m.cacheSize : held));
}
/** The RSS holding them (for a worker that crashed: just before). */
const rssOf = (m: MemoryRun) => (m.crash ? m.crash.rssBefore : m.rss.median);
/** RSS above idle per cached lifecycle, bytes. */
const perCached = (m: MemoryRun) => (rssOf(m) - m.baselineRss) / cachedOf(m);
const duration = (seconds: number) =>
  seconds < 120 ? `${seconds.toFixed(0)} s` : `${(seconds / 60).toFixed(0)} minutes`;
const rssText = (m: MemoryRun) => (m.crash ? `crashed at ${mib(m.crash.rssBefore)}` : mib(m.rss.median));

function report(r: Results, ctx: Context): string {
  const sections = ctx.sections ?? ALL_SECTIONS;
  const partial = sections.length < ALL_SECTIONS.length;
  const flags = [ctx.quick ? '--quick' : '', partial ? `--only ${sections.join(',')}` : ''].filter(Boolean);
  const command = flags.length ? `npm run bench -- ${flags.join(' ')}` : 'npm run bench';
  const half = r.sweep?.find((p) => p.fraction === 0.5);
  const s: string[] = [];
  s.push(
    '# Benchmark results',
    '',
    `Generated by \`${command}\` on ${ctx.date.slice(0, 10)} in ${ctx.minutes.toFixed(1)} minutes. ` +
      'Every figure below comes from that one run, against one Temporal dev server (in memory unless ' +
      "said otherwise), PostgreSQL for the ledger and the nonce bindings, and the service's own entry " +
      'points (`src/main/worker.ts`, `src/main/server.ts`) as child processes. Repeated figures are ' +
      '"median (min–max)" over the runs. Reproduce with:',
    '',
    '```bash',
    command,
    '```',
    '',
    ...(partial
      ? [
          `**Sections ${sections.join(', ')} only** (\`--only\`): the others were not measured in this run.`,
          '',
        ]
      : []),
    `This run took ${ctx.minutes.toFixed(0)} minutes.` +
      (r.memory
        ? ` Section 5's two populations of ${count(r.memory.shipped.lifecycles)} running lifecycles (after and ` +
          `before) took ${duration(r.memory.shipped.registerSeconds)} and ${duration(r.memory.sdkDefault.registerSeconds)} ` +
          'of it to start and register; they dominate the full run.'
        : '') +
      ' `--quick` uses smaller sizes, `--only 5,7` measures only the sections named, and ' +
      `\`npm run bench -- ${ctx.quick ? '--quick ' : ''}--render bench/results.json\` re-renders this file from the ` +
      'saved figures.',
    '',
    `Machine: ${ctx.cores} cores (${ctx.cpu}), ${ctx.memoryGiB} GiB, Node ${ctx.node}, ${ctx.temporal}, commit ${ctx.commit}. ` +
      `Load average ${ctx.loadBefore[0].toFixed(1)} before and ${ctx.loadAfter[0].toFixed(1)} after: the machine is shared ` +
      '(other test suites run on it), so absolute rates move from run to run; the targets are judged on ' +
      'ratios taken in the same run, alternating the two sides.',
    '',
  );

  const summary: (string | number)[][] = [];
  if (r.pairs)
    summary.push([
      `ingest / raw signal-with-start throughput, ${CONCURRENCY} in flight`,
      formatSpread(r.pairs.ratio, 2),
      '≥ 0.9',
      met(r.pairs.ratio.median >= 0.9),
    ]);
  if (r.pairsSaturated)
    summary.push([
      `ingest / raw signal-with-start throughput, ${SATURATING_CONCURRENCY} in flight (CPU-bound)`,
      formatSpread(r.pairsSaturated.ratio, 2),
      '≥ 0.9',
      met(r.pairsSaturated.ratio.median >= 0.9),
    ]);
  if (r.sweep)
    summary.push([
      `p99 acknowledgement at half the maximum rate (${half?.rate.toFixed(0)}/s)`,
      half ? formatSpread(half.p99, 1, ' ms') : 'n/a',
      '≤ 50 ms',
      met(!!half && half.p99.median <= 50),
    ]);
  if (r.verify) {
    const worstVerify = Math.max(...r.verify.map((v) => v.readCallback.median));
    const jsonVerify = r.verify[0];
    summary.push(
      [
        `readCallback per callback (worst case: ${r.verify.find((v) => v.readCallback.median === worstVerify)?.case})`,
        `${worstVerify.toFixed(1)} µs`,
        '≤ 50 µs',
        met(worstVerify <= 50),
      ],
      [
        `readCallback, ${jsonVerify.case}`,
        formatSpread(jsonVerify.readCallback, 1, ' µs'),
        '≤ 50 µs',
        met(jsonVerify.readCallback.median <= 50),
      ],
    );
  }
  if (r.e2e)
    summary.push([
      `end to end: lifecycles/s (${r.e2e.n} stops → billing finalized)`,
      `${formatSpread(r.e2e.lifecycles, 0, '/s')}, ${formatSpread(r.e2e.ratio, 2)} of the trivial-workflow rate`,
      'reported',
      '',
    ]);
  if (r.memory) {
    const { shipped: after, sdkDefault: before, tracing } = r.memory;
    summary.push(
      [
        `worker RSS as shipped (cache ${count(after.cacheSize)}), ${count(after.running)} running lifecycles`,
        rssText(after),
        '≤ 512 MB',
        met(!after.crash && after.rss.median <= 512e6),
      ],
      [
        `before: the same with the SDK's default cache (${count(before.cacheSize)}), ${count(before.running)} running lifecycles`,
        rssText(before),
        '≤ 512 MB',
        met(!before.crash && before.rss.median <= 512e6),
      ],
      [
        `tracing worker (tracing bundle, cache ${count(tracing.cacheSize)}), ${count(tracing.running)} running lifecycles`,
        `${rssText(tracing)}, ${kib(perCached(tracing))} KiB per cached lifecycle`,
        'survives',
        met(!tracing.crash),
      ],
    );
  }
  s.push('## Summary', '', table(['figure', 'measured', 'target', ''], summary), '');

  if (r.verify) {
    s.push(
      `## 1. Verify-and-parse cost (\`readCallback\`)`,
      '',
      `Per call, in the bench process, ${SIZES.verify.iterations.toLocaleString('en-US')} calls per run, ${SIZES.verify.runs} runs, ` +
        'the loops interleaved. The baseline is the least any receiver does with the same bytes: `JSON.parse` ' +
        '(form bodies: `URLSearchParams`, then `JSON.parse` of `Details`). The stage columns time each ' +
        'stage alone (decode = lossless JSON/form decoding with key lowercasing; signature = SHA-1 check; ' +
        'fingerprint = canonical JSON + SHA-256); the rest of readCallback is the zod schema.',
      '',
      table(
        [
          'body',
          'bytes',
          'readCallback µs',
          'baseline µs',
          'ratio',
          'decode µs',
          'signature µs',
          'fingerprint µs',
        ],
        r.verify.map((v) => [
          v.case,
          v.bytes,
          formatSpread(v.readCallback, 1),
          formatSpread(v.jsonParse, 1),
          `${(v.readCallback.median / v.jsonParse.median).toFixed(0)}×`,
          v.stages.decode.median.toFixed(1),
          v.stages.signature.median.toFixed(1),
          v.stages.fingerprint.median.toFixed(1),
        ]),
      ),
      '',
    );
  }

  if (r.pairs) {
    const { cpuPerOpRaw, cpuPerOpIngest } = r.pairs;
    const cpuRows = Object.keys(cpuPerOpIngest).map((k) => [
      k,
      cpuPerOpRaw[k].toFixed(2),
      cpuPerOpIngest[k].toFixed(2),
    ]);
    const totalRaw = Object.values(r.pairs.cpuPerOpRaw).reduce((a, b) => a + b, 0);
    const totalIngest = Object.values(r.pairs.cpuPerOpIngest).reduce((a, b) => a + b, 0);
    cpuRows.push(['**all**', totalRaw.toFixed(2), totalIngest.toFixed(2)]);
    s.push(
      '## 2. The limit and ingest',
      '',
      `Closed loop, ${CONCURRENCY} in flight, ${SIZES.pairs.n} callbacks per run: the start callbacks of ` +
        `${SIZES.pairs.n / 2} new lifecycles (unique TaskIds), then their stops, so every run leaves its lifecycles ` +
        `billed and closed; ${SIZES.pairs.runs} runs alternating which side goes first; before each run the bench ` +
        'waits until the worker has billed every lifecycle handed over so far, so neither side inherits a backlog. ' +
        'The worker of this queue runs as shipped (the workflow bundle without the OpenTelemetry interceptors, ' +
        'tracing off, the default workflow cache). ' +
        "**Raw**: `TemporalLifecycleGateway.deliver` (the server's own signal-with-start, same workflow type, ID " +
        'scheme, arguments and search attributes) from a plain `@temporalio/client` in the bench process. ' +
        '**Ingest**: the same callbacks signed, `POST /zego/callback` to the server process (decode, verify, ' +
        'PostgreSQL nonce binding, signal-with-start, 200).',
      '',
      table(
        ['', 'raw signal-with-start', 'ingest (HTTP)'],
        [
          ['throughput /s', formatSpread(r.pairs.raw, 0), formatSpread(r.pairs.ingest, 0)],
          ['p50 latency ms', formatSpread(r.pairs.rawP50, 1), formatSpread(r.pairs.ingestP50, 1)],
          ['ingest / raw (per pair)', '', formatSpread(r.pairs.ratio, 2)],
        ],
      ),
      '',
      'CPU time per callback (ms, median of the runs), by process, from /proc, from the start of a run until the ' +
        'worker has billed its lifecycles:',
      '',
      table(['process', 'raw', 'ingest'], cpuRows),
      '',
      `Load average at each run: ${r.pairs.loadAverage.map((l) => l.toFixed(1)).join(', ')} (2 cores).`,
      '',
    );
  }
  const sat = r.pairsSaturated;
  if (sat) {
    s.push(
      `The same pairs with ${SATURATING_CONCURRENCY} in flight, where both sides keep the machine's cores busy, so ` +
        'throughput is set by CPU rather than by the latency of each hop:',
      '',
      table(
        ['', 'raw signal-with-start', 'ingest (HTTP)'],
        [
          ['throughput /s', formatSpread(sat.raw, 0), formatSpread(sat.ingest, 0)],
          ['p50 latency ms', formatSpread(sat.rawP50, 1), formatSpread(sat.ingestP50, 1)],
          ['ingest / raw (per pair)', '', formatSpread(sat.ratio, 2)],
        ],
      ),
      '',
    );
  }

  if (r.sweep) {
    s.push(
      '## 3. Acknowledgement latency against offered rate',
      '',
      `Open loop at fractions of the measured maximum ingest rate (${r.pairs?.ingest.median.toFixed(0)}/s), ` +
        `${SIZES.sweep.seconds} s per point, ${SIZES.sweep.runs} runs; latency is counted from the moment each ` +
        'callback was due (a backlog shows as latency). Chart: [latency.svg](latency.svg).',
      '',
      '![latency against offered rate](latency.svg)',
      '',
      table(
        [
          'offered',
          'rate /s',
          'achieved /s',
          'HTTP p50 ms',
          'HTTP p99 ms',
          'non-2xx',
          'raw p50 ms',
          'raw p99 ms',
        ],
        r.sweep.map((p) => [
          `${(p.fraction * 100).toFixed(0)}%`,
          p.rate.toFixed(0),
          formatSpread(p.achieved, 0),
          formatSpread(p.p50, 1),
          formatSpread(p.p99, 1),
          p.non2xx,
          formatSpread(p.raw.p50, 1),
          formatSpread(p.raw.p99, 1),
        ]),
      ),
      '',
    );
  }

  if (r.e2e) {
    const population = r.memory?.shipped;
    s.push(
      '## 4. End to end',
      '',
      `On the population of section 5's shipped worker (${count(population?.running ?? NaN)} running lifecycles, a ` +
        `fresh worker and server on their own task queue), run after run the stop callbacks of ${count(r.e2e.n)} ` +
        'of them are posted (closed loop, 20 in flight) and the clock runs until the last of those has its ledger row ' +
        "(billing finalized, counted in PostgreSQL). The baseline is the dev server's raw workflow-completion " +
        `throughput: ${count(r.e2e.n)} \`benchTrivial\` workflows (no activity) started by a plain client, ` +
        '20 in flight, on the same worker process and task queue, until visibility counts them all completed; the ' +
        'two alternate.',
      '',
      table(
        ['', 'per second'],
        [
          ['lifecycles: stop callback → billing finalized', formatSpread(r.e2e.lifecycles, 0)],
          ['trivial workflows: started → completed', formatSpread(r.e2e.trivial, 0)],
          ['ratio lifecycles / trivial', formatSpread(r.e2e.ratio, 2)],
          ['stop callbacks acknowledged (during the same runs)', formatSpread(r.e2e.stopIngest, 0)],
        ],
      ),
      '',
      `Every run billed every lifecycle once, at the expected 10 minutes: ${r.e2e.billedCorrectly.every(Boolean) ? 'yes' : 'NO'}.`,
      '',
    );
  }

  if (r.memory) {
    const m = r.memory;
    const rows: [string, MemoryRun][] = [
      ['after: as shipped', m.shipped],
      ["before: the SDK's default cache", m.sdkDefault],
      ['tracing on', m.tracing],
    ];
    s.push(
      '## 5. Memory',
      '',
      'What changed: the OpenTelemetry workflow interceptors (`WORKFLOW_INTERCEPTOR_MODULES`) are bundled only for ' +
        'a tracing worker (`bundleLifecycleWorkflows({ tracing: true })`; `npm run build` writes ' +
        '`dist/workflow-bundle.js` and `dist/workflow-bundle.tracing.js`, and the worker loads the one matching its ' +
        'tracing setting), and `WORKER_MAX_CACHED_WORKFLOWS` (default 300) sets the size of the workflow cache, ' +
        "which was the SDK's default. Before and after are measured in this same run.",
      '',
      'Each measurement: a fresh worker process (and server) on its own task queue; lifecycles started through ' +
        '`POST /zego/callback` (one start callback each, no stop, 20 in flight) until the worker has registered all of ' +
        'them; then the RSS of the worker process alone, from /proc, sampled 5 times a second apart. The cache and ' +
        'tracing columns are what the worker logged at start.',
      '',
      `- **after: as shipped**: the workflow bundle without the interceptors, tracing off, \`WORKER_MAX_CACHED_WORKFLOWS\` unset.`,
      `- **before: the SDK's default cache**: the same worker with \`WORKER_MAX_CACHED_WORKFLOWS=${m.sdkDefaultCache.cacheSize}\`, ` +
        'what the SDK picks when none is given, from the V8 heap limit of a worker process here ' +
        `(${m.sdkDefaultCache.heapLimitMiB.toFixed(0)} MiB → max(⌊(heap − 200) × 600 / 1024⌋, 10)): the cache the worker had before. ` +
        '(Its bundle then also carried the interceptors; the tracing row measures a worker with them.)',
      `- **tracing on**: the tracing bundle, tracing on (OTLP over HTTP to a collector in the bench process that ` +
        `discards the spans: ${count(m.traceExports.requests)} export requests, ${kib(m.traceExports.bytes)} KiB), ` +
        '`WORKER_MAX_CACHED_WORKFLOWS` unset.',
      '',
      table(
        [
          'worker',
          'cache',
          'tracing',
          'lifecycles started',
          'running (visibility)',
          'registered after',
          'idle RSS',
          'RSS holding them',
          'peak RSS',
          'KiB per cached lifecycle',
        ],
        rows.map(([label, w]) => [
          label,
          count(w.cacheSize),
          w.tracing,
          `${count(w.lifecycles)} at ${w.startRate.toFixed(0)}/s`,
          count(w.running),
          w.crash ? 'crashed' : `${w.registerSeconds.toFixed(0)} s`,
          mib(w.baselineRss),
          w.crash
            ? `${mib(w.crash.rssBefore)} before it crashed`
            : formatSpread(spread(w.rss.runs.map((x) => x / 2 ** 20)), 0, ' MiB'),
          mib(w.peakRss),
          `${kib(perCached(w))} (${count(cachedOf(w))} cached)`,
        ]),
      ),
      '',
      ...rows
        .filter(([, w]) => w.crash)
        .map(
          ([label, w]) =>
            `The worker "${label}" **crashed** after ${count(w.crash?.registered ?? 0)} lifecycles had been ` +
            `registered (RSS ${mib(w.crash?.rssBefore ?? 0)} just before): \`${(w.crash?.error ?? '').replace(/`/g, "'")}\`.\n`,
        ),
      'KiB per cached lifecycle: the RSS above idle divided by the lifecycles in the cache (those registered, at most ' +
        'the cache size); it also counts what the worker allocated besides the cache, which weighs more with a small ' +
        'cache. The worker keeps at most `maxCachedWorkflows` workflows in memory; the others wait in ' +
        'Temporal and are replayed from history when a callback arrives, so without a leak the RSS is bounded by the ' +
        'cache, not by the number of running lifecycles.',
      '',
    );
  }

  if (r.profile) {
    s.push(
      '## 6. Where the HTTP server spends its CPU',
      '',
      `\`node --cpu-prof\` of \`src/main/server.ts\` under ${SIZES.profile.n} callbacks, 20 in flight ` +
        `(${r.profile.busyMs.toFixed(0)} ms busy, ${r.profile.idleMs.toFixed(0)} ms idle): self time by package and by function.`,
      '',
      table(
        ['package', 'share'],
        r.profile.byPackage.map((p) => [p.name, `${(p.share * 100).toFixed(1)}%`]),
      ),
      '',
      table(
        ['function', 'share'],
        r.profile.byFunction
          .slice(0, 10)
          .map((p) => [p.name.replace(/\|/g, '\\|'), `${(p.share * 100).toFixed(1)}%`]),
      ),
      '',
    );
  }

  if (r.dev) {
    const journal = (d: DevVariantResult) =>
      d.journal === 'WAL'
        ? 'WAL'
        : d.journal === 'rollback'
          ? 'rollback'
          : d.journal === null
            ? 'in memory'
            : '';
    s.push(
      '## 7. Why `npm run dev` acknowledged slowly, and the dev server in WAL mode',
      '',
      `${SIZES.dev.n} start callbacks, closed loop, 20 in flight, after a warm-up; one change at a time. The event-loop ` +
        'delay is the p99 of per-second p99s (and the max) of the process that serves HTTP, from a probe ' +
        'loaded with `--import` (bench/lib/eld-probe.mjs). CPU in cores used during the run. SQLite journal: the ' +
        "one the dev server's database was in during the run (a `-wal` file next to it, or none).",
      '',
      table(
        [
          'variant',
          'what changes',
          'SQLite journal',
          'throughput /s',
          'p50 ms',
          'p99 ms',
          'event-loop delay p99 / max ms',
          'CPU (cores)',
        ],
        r.dev.map((d) => [
          `\`${d.variant}\``,
          d.description,
          journal(d),
          d.throughput.toFixed(0),
          d.p50.toFixed(0),
          d.p99.toFixed(0),
          d.eventLoopDelayP99 === null
            ? ''
            : `${d.eventLoopDelayP99.toFixed(0)} / ${d.eventLoopDelayMax?.toFixed(0)}`,
          Object.entries(d.cpu)
            .map(([k, v]) => `${k} ${v.toFixed(2)}`)
            .join(', '),
        ]),
      ),
      '',
      `As shipped, tools/temporal-dev-server starts a file-backed dev server with ` +
        `${DEV_SERVER_SQLITE_PRAGMAS.map((p) => `\`--sqlite-pragma ${p}\``).join(' ')} (\`DEV_SERVER_SQLITE_PRAGMAS\`, ` +
        'when `dbFilename` is set, as `npm run dev` does). The `(rollback journal)` variants are the before: the ' +
        'same Temporal CLI behind a wrapper that drops the `--sqlite-pragma` arguments, i.e. the dev server started ' +
        "exactly as before the change (SQLite's defaults).",
      '',
    );
  }
  s.push(...findings(r));
  return s.join('\n');
}

/** What the figures above say about each missed target, computed from this run's numbers. */
function findings(r: Results): string[] {
  const out: string[] = ['## Findings', ''];
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  const serverCpu = r.pairs?.cpuPerOpIngest.server ?? 0;
  if (r.pairs) {
    const rawCpu = total(r.pairs.cpuPerOpRaw);
    const ingestCpu = total(r.pairs.cpuPerOpIngest);
    out.push(
      `- **Ingest vs raw (${r.pairs.ratio.median.toFixed(2)}).** The two cores are saturated during these runs (load ` +
        `average ${median(r.pairs.loadAverage).toFixed(1)}). Raw signal-with-start costs ${rawCpu.toFixed(1)} ms of CPU per ` +
        `callback over all processes, settlement included (Temporal ${r.pairs.cpuPerOpRaw.temporal?.toFixed(1)}, worker ` +
        `${r.pairs.cpuPerOpRaw.worker?.toFixed(1)}); through HTTP ${ingestCpu.toFixed(1)} ms, of which the HTTP server's own ` +
        `${serverCpu.toFixed(1)} ms. Over these processes (PostgreSQL is not counted) CPU would predict a ratio of ` +
        `${(rawCpu / ingestCpu).toFixed(2)}. At ${CONCURRENCY} in flight a closed loop runs at ${CONCURRENCY} / latency, ` +
        'and each HTTP callback crosses two more processes (the server, and PostgreSQL for the nonce binding, ' +
        'committed with a WAL flush) that wait for a core on a saturated machine, so the HTTP p50 is ' +
        `${(r.pairs.ingestP50.median - r.pairs.rawP50.median).toFixed(0)} ms above raw's. No single hot spot in the ` +
        'server explains it (section 6): synchronous log writes (writev/writeString, pino and its redaction: about a ' +
        'third of its CPU), the gRPC client, Express and body reading, readCallback and zod each take a slice. ' +
        'Everything the HTTP path adds runs on the same two cores Temporal needs; in a deployment the server and ' +
        'PostgreSQL have cores of their own, which this machine cannot show.',
    );
  }
  if (r.pairs && r.pairsSaturated) {
    const sat = r.pairsSaturated;
    out.push(
      `- **Where the ingest limit lies.** With ${SATURATING_CONCURRENCY} in flight instead of ${CONCURRENCY}, raw ` +
        `signal-with-start reaches ${sat.raw.median.toFixed(0)}/s and ingest ${sat.ingest.median.toFixed(0)}/s, a ratio of ` +
        `${sat.ratio.median.toFixed(2)} (${r.pairs.ratio.median.toFixed(2)} at ${CONCURRENCY}): ` +
        (sat.ratio.median >= 0.9
          ? 'once the closed loop has enough in flight to hide the extra hops, the HTTP path costs the share of CPU section 6 shows and no more.'
          : "even CPU-bound, the HTTP path (server, nonce binding, the bench client's own HTTP work on the same two cores) costs that share of a machine Temporal already saturates."),
    );
  }
  const half = r.sweep?.find((p) => p.fraction === 0.5);
  if (half) {
    out.push(
      `- **p99 at half the maximum rate (${half.p99.median.toFixed(0)} ms through HTTP).** Raw signal-with-start offered at ` +
        `the same ${half.rate.toFixed(0)}/s has p50 ${half.raw.p50.median.toFixed(0)} ms and p99 ${half.raw.p99.median.toFixed(0)} ms: ` +
        'the acknowledgement waits for Temporal to persist the signal-with-start, and on this shared 2-core machine that alone ' +
        `is ${half.raw.p99.median > 50 ? 'over' : 'under'} the 50 ms budget; the HTTP hop adds ` +
        `${(half.p50.median - half.raw.p50.median).toFixed(0)} ms at p50.`,
    );
  }
  if (r.e2e && r.memory) {
    const population = r.memory.shipped;
    out.push(
      `- **End to end (${r.e2e.lifecycles.median.toFixed(0)} lifecycles/s, ${r.e2e.ratio.median.toFixed(2)} of the trivial ` +
        'workflow).** A lifecycle is far more work for Temporal and the worker than a trivial workflow: its start and ' +
        'stop each take a workflow task, settling takes three activities (registry cleanup, ledger, alert when ' +
        "aborted) plus the follow-ups' local activity and their workflow tasks, and closing takes the linger timer" +
        (r.pairs
          ? `; section 2 measured ${(2 * total(r.pairs.cpuPerOpRaw)).toFixed(0)} ms of CPU per lifecycle over all processes. `
          : '. ') +
        `Here the stops also land on a worker holding ${count(population.running)} running lifecycles with ` +
        `a cache of ${count(population.cacheSize)}: most of them were evicted and are replayed first. ` +
        'The throughput is bounded by the CPU of the dev server and the worker, not by the HTTP ingest (the stop ' +
        `callbacks themselves were acknowledged at ${r.e2e.stopIngest.median.toFixed(0)}/s).`,
    );
  }
  if (r.verify) {
    const jsonStart = r.verify[0];
    out.push(
      `- **readCallback (${jsonStart.readCallback.median.toFixed(0)} µs for a 3-output start).** By stage: decode ` +
        `${jsonStart.stages.decode.median.toFixed(0)} µs (lossless JSON parsing with key lowercasing, ~` +
        `${(jsonStart.stages.decode.median / jsonStart.jsonParse.median).toFixed(0)}× a native JSON.parse), fingerprint ` +
        `${jsonStart.stages.fingerprint.median.toFixed(0)} µs (canonical JSON by recursion, then SHA-256), signature ` +
        `${jsonStart.stages.signature.median.toFixed(0)} µs, the zod schema the rest.` +
        (r.pairs
          ? ` It is ${((jsonStart.readCallback.median / 1000 / Math.max(serverCpu, 0.001)) * 100).toFixed(1)}% of the ` +
            "server's CPU per callback: not what limits ingest."
          : ''),
    );
  }
  if (r.memory) {
    const { shipped: after, sdkDefault: before, tracing, traceExports } = r.memory;
    const perBefore = perCached(before);
    const perAfter = perCached(after);
    /** The cache that keeps a worker like `m` under 512 MB by a linear estimate from its row. */
    const cacheFor512 = (m: MemoryRun) =>
      count(Math.max(0, Math.floor((512e6 - m.baselineRss) / perCached(m) / 10) * 10));
    const afterMet = !after.crash && after.rss.median <= 512e6;
    out.push(
      `- **Worker memory as shipped (${rssText(after)} holding ${count(after.running)} running lifecycles, target ` +
        `≤ 512 MB ${afterMet ? 'met' : 'missed'}).** The workflow interceptors are now only in a tracing worker's ` +
        `bundle, and \`WORKER_MAX_CACHED_WORKFLOWS\` (default ${count(after.cacheSize)}) caps the workflow cache, which ` +
        `was the SDK's default from the V8 heap limit (${count(before.cacheSize)} here). On the same population in the ` +
        `same run: before ${rssText(before)} (${kib(perBefore)} KiB per cached lifecycle, ${count(cachedOf(before))} ` +
        `cached), after ${rssText(after)} (${kib(perAfter)} KiB per cached lifecycle, ${count(cachedOf(after))} cached), ` +
        `${(rssOf(before) / rssOf(after)).toFixed(1)}× less. The RSS grows with the cache, not with the number of ` +
        'running lifecycles (evicted ones are replayed from their short history when their next callback arrives); ' +
        `by a linear estimate from the before row a cache of about ${cacheFor512(before)} would keep the worker under 512 MB.`,
    );
    const perTracing = perCached(tracing);
    out.push(
      `- **A tracing worker (${tracing.crash ? `crashed after ${count(tracing.crash.registered)} registered lifecycles` : `survived ${count(tracing.running)} running lifecycles`}, ` +
        `${mib(rssOf(tracing))}).** With tracing on it loads the tracing bundle, which carries the OpenTelemetry ` +
        `workflow interceptors: ${kib(perTracing)} KiB per cached lifecycle, ${(perTracing / perAfter).toFixed(1)}× the ` +
        `plain bundle's at ${tracing.cacheSize === after.cacheSize ? 'the same' : 'its'} cache (after row). The cache ` +
        `bounds it: ${count(cachedOf(tracing))} cached (cache ${count(tracing.cacheSize)}), ${mib(rssOf(tracing))}, ` +
        `${rssOf(tracing) <= 512e6 ? 'within' : 'over'} 512 MB; by a linear estimate a cache of about ` +
        `${cacheFor512(tracing)} would keep a tracing worker under 512 MB, and with the SDK's default cache ` +
        `(${count(before.cacheSize)}) it would take ${mib(tracing.baselineRss + perTracing * before.cacheSize)}. ` +
        `Tracing was on: the worker logged tracing \`${tracing.tracing}\` and sent ${count(traceExports.requests)} OTLP ` +
        `export requests (${kib(traceExports.bytes)} KiB) to the bench's collector.`,
    );
  }
  if (r.dev) {
    const by = (v: string) => r.dev?.find((d) => d.variant === v);
    const [dev, devOld, pg, split, rawFile, rawOld, rawMem] = [
      by('dev'),
      by('dev (rollback journal)'),
      by('dev+postgres'),
      by('split'),
      by('raw (file)'),
      by('raw (file, rollback journal)'),
      by('raw (memory)'),
    ];
    if (dev && devOld && split && rawFile && rawOld && rawMem) {
      const at = (d: DevVariantResult) => `${d.throughput.toFixed(0)}/s at p50 ${d.p50.toFixed(0)} ms`;
      out.push(
        `- **\`npm run dev\` (as shipped, WAL: ${at(dev)}; before, rollback journal: ${at(devOld)}; 20 in flight).** ` +
          'The dev server persists to a SQLite file, and its journal is what changed: a plain client without HTTP ' +
          `against the file-backed dev server gets ${at(rawOld)} with the rollback journal (a synchronous commit per ` +
          `write) and ${at(rawFile)} in WAL mode with \`synchronous=NORMAL\` ` +
          `(${(rawFile.throughput / rawOld.throughput).toFixed(1)}× the throughput), against ${at(rawMem)} for the ` +
          `in-memory dev server; the one-process dev mode went from ${at(devOld)} to ${at(dev)} ` +
          `(${(dev.throughput / devOld.throughput).toFixed(1)}×). Splitting the one process into three gives ` +
          `${at(split)}. PGlite adds to it: it runs its WASM on the main thread of the one dev process, whose event ` +
          `loop then stalls (event-loop delay p99 ${dev.eventLoopDelayP99?.toFixed(0)} ms, ` +
          `max ${dev.eventLoopDelayMax?.toFixed(0)} ms` +
          (pg
            ? `, vs ${pg.eventLoopDelayP99?.toFixed(0)} / ${pg.eventLoopDelayMax?.toFixed(0)} ms with PostgreSQL, ` +
              `which gets ${at(pg)})`
            : ')') +
          ". The workflow code itself runs in the SDK's worker thread, not on the main thread.",
      );
    }
  }
  out.push('');
  return out;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
