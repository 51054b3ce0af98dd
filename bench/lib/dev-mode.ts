/**
 * Why `npm run dev` acknowledged slowly (p50 ~400 ms at 20 in flight): the same load against
 * variants that each change one thing, measured in one run:
 *  - `dev`            src/main/dev.ts as shipped: one process (PGlite + worker + HTTP server), the
 *                     dev server persisting to a SQLite file;
 *  - `dev+postgres`   the same process with DATABASE_URL: PostgreSQL instead of PGlite;
 *  - `split`          the same pieces as `dev` in separate processes (worker with PGlite, server);
 *  - `raw (file)`     signal-with-start from a plain client, no HTTP, against the file-backed dev server;
 *  - `raw (file, WAL)` the same with the file in WAL mode, synchronous=NORMAL (the proposed fix);
 *  - `raw (memory)`   the same against the in-memory dev server of the other benchmarks.
 * The HTTP-serving process runs with an event-loop-delay probe (bench/lib/eld-probe.mjs), and every
 * process's CPU time is read from /proc.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { lifecycleSettings, loadServerConfig } from '../../src/config';
import { freePort, startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { TemporalLifecycleGateway } from '../../src/temporal/lifecycle-gateway';
import {
  cpuSecondsOf,
  descendantsOf,
  spawnChild,
  spawnServer,
  spawnWorker,
  type Child,
} from '../../test/chaos/processes';
import { closedLoop, HttpPoster, type LoadResult } from './load';
import { startPragmaDevServer } from './pragma-devserver';
import { percentile } from './stats';
import { BENCH_SECRET, payloadOf, SERVICE_ENV, startCallbacks, type Stack } from './stack';

export interface DevVariantResult {
  variant: string;
  description: string;
  throughput: number;
  p50: number;
  p99: number;
  /** Event-loop delay of the HTTP-serving process during the run (p99 of per-second p99s), ms. */
  eventLoopDelayP99: number | null;
  eventLoopDelayMax: number | null;
  /** CPU cores used during the run, per process. */
  cpu: Record<string, number>;
  outcomes: Record<string, number>;
}

const PROBE = path.join(__dirname, 'eld-probe.mjs');
/** The SQLite settings proposed for the file-backed dev server. */
export const WAL_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

interface CpuWatch {
  pids: Record<string, number>;
  before: Record<string, number>;
}

function watchCpu(pids: Record<string, number>): CpuWatch {
  const before: Record<string, number> = {};
  for (const [k, pid] of Object.entries(pids)) before[k] = safeCpu(pid);
  return { pids, before };
}

function cpuSince(w: CpuWatch, ms: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, pid] of Object.entries(w.pids)) {
    out[k] = Math.round(((safeCpu(pid) - w.before[k]) / (ms / 1000)) * 100) / 100;
  }
  return out;
}

function safeCpu(pid: number): number {
  try {
    return cpuSecondsOf(pid);
  } catch {
    return 0;
  }
}

function probeWindow(file: string, fromMs: number, toMs: number): { p99: number; max: number } | null {
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { t: number; p99: number; max: number })
    .filter((l) => l.t >= fromMs + 1000 && l.t <= toMs + 500);
  if (!lines.length) return null;
  return {
    p99: percentile(
      lines.map((l) => l.p99),
      0.99,
    ),
    max: Math.max(...lines.map((l) => l.max)),
  };
}

async function load(
  url: string,
  appId: string,
  prefix: string,
  n: number,
  concurrency: number,
): Promise<LoadResult> {
  const poster = new HttpPoster(`${url}/zego/callback`, concurrency);
  try {
    const warm = startCallbacks(appId, `${prefix}-warm`, concurrency * 2);
    await closedLoop(warm.length, concurrency, (i) => poster.post(warm[i].body, warm[i].contentType));
    const cbs = startCallbacks(appId, prefix, n);
    return await closedLoop(n, concurrency, (i) => poster.post(cbs[i].body, cbs[i].contentType));
  } finally {
    poster.close();
  }
}

function summarize(
  variant: string,
  description: string,
  r: LoadResult,
  cpu: Record<string, number>,
  eld: { p99: number; max: number } | null,
): DevVariantResult {
  return {
    variant,
    description,
    throughput: r.throughput,
    p50: percentile(r.latenciesMs, 0.5),
    p99: percentile(r.latenciesMs, 0.99),
    eventLoopDelayP99: eld?.p99 ?? null,
    eventLoopDelayMax: eld?.max ?? null,
    cpu,
    outcomes: r.outcomes,
  };
}

/** src/main/dev.ts as a child (its dev server is its own child). */
async function devProcess(
  stack: Stack,
  name: string,
  extraEnv: Record<string, string>,
): Promise<{ child: Child; url: string; probe: string; temporalPid: () => number }> {
  const dataDir = path.join(stack.dir, name);
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const probe = path.join(stack.dir, `${name}-eld.jsonl`);
  const child = await spawnChild({
    entry: 'src/main/dev.ts',
    name,
    nodeArgs: ['--import', PROBE],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_CLI_PATH: stack.cliPath,
      TEMPORAL_CONFIG_FILE: path.join(stack.dir, 'no-temporal.toml'),
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_DEV_UI_PORT: String(await freePort()),
      ZEGO_CALLBACK_SECRET: BENCH_SECRET,
      ZEGO_CALLBACK_MAX_SKEW: '1h',
      LOG_LEVEL: 'info',
      WORKFLOW_BUNDLE_PATH: stack.bundlePath,
      ELD_PROBE_FILE: probe,
      ...extraEnv,
    },
    logFile: path.join(stack.dir, `${name}.log`),
    readyWhen: 'callback URL',
    readyTimeoutMs: 180_000,
  });
  const temporalPid = () => descendantsOf(child.pid)[0] ?? -1;
  return { child, url: `http://127.0.0.1:${port}`, probe, temporalPid };
}

export async function devModeInvestigation(
  stack: Stack,
  opts: { n: number; concurrency: number; log: (line: string) => void },
): Promise<DevVariantResult[]> {
  const { n, concurrency, log } = opts;
  const results: DevVariantResult[] = [];

  // 1. and 2. The shipped one-process dev mode, with PGlite and with PostgreSQL.
  const devVariants: [string, string, Record<string, string>][] = [
    ['dev', '`npm run dev` as shipped: one process (PGlite + worker + HTTP), SQLite-file dev server', {}],
  ];
  if (stack.database.kind === 'postgres') {
    devVariants.push([
      'dev+postgres',
      'the same one process, PostgreSQL (DATABASE_URL) instead of PGlite',
      { DATABASE_URL: stack.database.url },
    ]);
  }
  for (const [name, description, env] of devVariants) {
    const dev = await devProcess(stack, name, env);
    try {
      const pids = { 'dev process': dev.child.pid, 'temporal (file)': dev.temporalPid(), bench: process.pid };
      const w = watchCpu(pids);
      const t0 = Date.now();
      const r = await load(dev.url, '700001', `${name}-${Date.now()}`, n, concurrency);
      const cpu = cpuSince(w, r.durationMs);
      results.push(summarize(name, description, r, cpu, probeWindow(dev.probe, t0, Date.now())));
      log(`  ${name}: p50 ${percentile(r.latenciesMs, 0.5).toFixed(0)} ms, ${r.throughput.toFixed(0)}/s`);
    } finally {
      await dev.child.stop(30_000);
    }
  }

  // 3. and 4. The same pieces in separate processes, and raw signal-with-start, against a file-backed dev server.
  const dir = path.join(stack.dir, 'split');
  mkdirSync(dir, { recursive: true });
  let temporal: DevServer | undefined;
  const children: Child[] = [];
  try {
    temporal = await startDevServer({
      cliPath: stack.cliPath,
      headless: true,
      logLevel: 'error',
      dbFilename: path.join(dir, 'temporal.db'),
    });
    const queue = 'bench-split';
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_CONFIG_FILE: path.join(stack.dir, 'no-temporal.toml'),
      TEMPORAL_TASK_QUEUE: queue,
      DATA_DIR: dir,
      WORKFLOW_BUNDLE_PATH: stack.bundlePath,
      ...SERVICE_ENV,
      LIFECYCLE_LINGER: '5m',
    };
    const worker = await spawnWorker(env, path.join(dir, 'worker.log'));
    children.push(worker);
    const port = await freePort();
    const probe = path.join(dir, 'server-eld.jsonl');
    const server = await spawnServer(
      { ...env, PORT: String(port), ELD_PROBE_FILE: probe },
      path.join(dir, 'server.log'),
      {
        nodeArgs: ['--import', PROBE],
      },
    );
    children.push(server);
    const pids = {
      server: server.pid,
      worker: worker.pid,
      'temporal (file)': temporal.process.pid ?? -1,
      bench: process.pid,
    };
    let w = watchCpu(pids);
    const t0 = Date.now();
    const r = await load(`http://127.0.0.1:${port}`, '700002', `split-${Date.now()}`, n, concurrency);
    results.push(
      summarize(
        'split',
        'the same pieces in three processes: server, worker (PGlite), SQLite-file dev server',
        r,
        cpuSince(w, r.durationMs),
        probeWindow(probe, t0, Date.now()),
      ),
    );
    log(`  split: p50 ${percentile(r.latenciesMs, 0.5).toFixed(0)} ms, ${r.throughput.toFixed(0)}/s`);

    const connection = await Connection.connect({ address: temporal.address });
    try {
      const client = new Client({ connection, namespace: 'default' });
      const config = loadServerConfig({ ...SERVICE_ENV, TEMPORAL_TASK_QUEUE: queue });
      const gateway = new TemporalLifecycleGateway({
        client,
        taskQueue: queue,
        settings: lifecycleSettings(config),
        handoffTimeoutMs: config.handoffTimeoutMs,
      });
      const payloads = startCallbacks('700003', `rawfile-${Date.now()}`, n).map((c) => payloadOf(c));
      w = watchCpu(pids);
      const raw = await closedLoop(n, concurrency, async (i) => {
        await gateway.deliver(payloads[i]);
        return 'ok';
      });
      results.push(
        summarize(
          'raw (file)',
          'signal-with-start from a plain client (no HTTP) against the SQLite-file dev server',
          raw,
          cpuSince(w, raw.durationMs),
          null,
        ),
      );
      log(
        `  raw (file): p50 ${percentile(raw.latenciesMs, 0.5).toFixed(0)} ms, ${raw.throughput.toFixed(0)}/s`,
      );
    } finally {
      await connection.close();
    }
  } finally {
    await Promise.all(children.map((c) => c.kill()));
    await temporal?.stop();
  }

  // 5. Raw against a file-backed dev server in WAL mode with synchronous=NORMAL (the proposed fix).
  const walDir = path.join(stack.dir, 'wal');
  mkdirSync(walDir, { recursive: true });
  const wal = await startPragmaDevServer(stack.cliPath, path.join(walDir, 'temporal.db'), WAL_PRAGMAS);
  try {
    const queue = 'bench-wal';
    const worker = await spawnWorker(
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: wal.address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_CONFIG_FILE: path.join(stack.dir, 'no-temporal.toml'),
        TEMPORAL_TASK_QUEUE: queue,
        DATA_DIR: walDir,
        WORKFLOW_BUNDLE_PATH: stack.bundlePath,
        ...SERVICE_ENV,
      },
      path.join(walDir, 'worker.log'),
    );
    const connection = await Connection.connect({ address: wal.address });
    try {
      const client = new Client({ connection, namespace: 'default' });
      const config = loadServerConfig({ ...SERVICE_ENV, TEMPORAL_TASK_QUEUE: queue });
      const gateway = new TemporalLifecycleGateway({
        client,
        taskQueue: queue,
        settings: lifecycleSettings(config),
        handoffTimeoutMs: config.handoffTimeoutMs,
      });
      const payloads = startCallbacks('700005', `rawwal-${Date.now()}`, n).map((c) => payloadOf(c));
      const w = watchCpu({
        worker: worker.pid,
        'temporal (file, WAL)': wal.process.pid ?? -1,
        bench: process.pid,
      });
      const raw = await closedLoop(n, concurrency, async (i) => {
        await gateway.deliver(payloads[i]);
        return 'ok';
      });
      results.push(
        summarize(
          'raw (file, WAL)',
          `the same against a SQLite-file dev server started with ${WAL_PRAGMAS.map((p) => `--sqlite-pragma ${p}`).join(' ')}`,
          raw,
          cpuSince(w, raw.durationMs),
          null,
        ),
      );
      log(
        `  raw (file, WAL): p50 ${percentile(raw.latenciesMs, 0.5).toFixed(0)} ms, ${raw.throughput.toFixed(0)}/s`,
      );
    } finally {
      await connection.close();
      await worker.kill();
    }
  } finally {
    await wal.stop();
  }

  // 6. Raw against the in-memory dev server (the other benchmarks' one), same client code.
  const queue = 'bench-devmode-raw';
  const worker = await stack.startWorker(queue);
  try {
    const gateway = stack.gateway(queue);
    const payloads = startCallbacks('700004', `rawmem-${Date.now()}`, n).map((c) => payloadOf(c));
    const w = watchCpu({
      worker: worker.pid,
      'temporal (memory)': stack.temporal.process.pid ?? -1,
      bench: process.pid,
    });
    const raw = await closedLoop(n, concurrency, async (i) => {
      await gateway.deliver(payloads[i]);
      return 'ok';
    });
    results.push(
      summarize(
        'raw (memory)',
        'signal-with-start from a plain client against the in-memory dev server',
        raw,
        cpuSince(w, raw.durationMs),
        null,
      ),
    );
    log(
      `  raw (memory): p50 ${percentile(raw.latenciesMs, 0.5).toFixed(0)} ms, ${raw.throughput.toFixed(0)}/s`,
    );
  } finally {
    await worker.kill();
  }
  return results;
}
