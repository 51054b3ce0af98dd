/**
 * `npm run dev` and what its throughput depends on: the same load against variants that each change
 * one thing, measured in one run:
 *  - `dev`            src/main/dev.ts as shipped: one process (worker + HTTP server with its inbox in
 *                     PGlite, on its own thread), the dev server persisting to a SQLite file in WAL mode
 *                     (DEV_SERVER_SQLITE_PRAGMAS);
 *  - `dev (direct hand-off)` the same one process with the HTTP server handing callbacks to
 *                     Temporal before answering (no inbox: dev-direct.ts), the dev mode before the inbox;
 *  - `dev (rollback journal)` the same before WAL: the dev server started without `--sqlite-pragma`
 *                     (SQLite's default rollback journal), through a CLI wrapper that drops them;
 *  - `dev+postgres`   the shipped process with DATABASE_URL: PostgreSQL instead of PGlite;
 *  - `split`          the same pieces as `dev` in separate processes (worker with PGlite, server);
 *  - `raw (file)`     signal-with-start from a plain client, no HTTP, against the file-backed (WAL) dev server;
 *  - `raw (file, rollback journal)` the same against a dev server started as before WAL;
 *  - `raw (memory)`   the same against the in-memory dev server of the other benchmarks.
 * The HTTP-serving process runs with an event-loop-delay probe (bench/lib/eld-probe.mjs), and every
 * process's CPU time is read from /proc. Each file-backed variant records the journal its database
 * was really in (a `-wal` file next to it while the dev server runs, or none). Throughput is
 * acknowledgements per second, and deliveries (the callback's workflow exists in Temporal) from the
 * first callback posted until the last one's workflow exists.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DEV_SERVER_SQLITE_PRAGMAS } from '../../tools/temporal-dev-server/args';
import { freePort } from '../../tools/process/ports';
import { startDevServer, type DevServer } from '../../tools/temporal-dev-server';
import { cpuSecondsOf, descendantsOf } from '../../tools/process/proc-stats';
import { ROOT, spawnChild, spawnServer, spawnWorker, type Child } from '../../tools/process/service-children';
import { waitForCount } from '../../tools/process/poll';
import { closedLoop, HttpPoster, type LoadResult } from './load';
import { percentile } from './stats';
import { BENCH_SECRET, benchGateway, payloadOf, SERVICE_ENV, startCallbacks, type Stack } from './stack';

export interface DevVariantResult {
  variant: string;
  description: string;
  /** Acknowledged /s. */
  throughput: number;
  /** Delivered /s: until every acknowledged callback's workflow existed (raw: the same as acknowledged). */
  delivery: number;
  p50: number;
  p99: number;
  /** Event-loop delay of the HTTP-serving process during the run (p99 of per-second p99s), ms. */
  eventLoopDelayP99: number | null;
  eventLoopDelayMax: number | null;
  /** CPU cores used during the run, per process. */
  cpu: Record<string, number>;
  outcomes: Record<string, number>;
  /** The dev server's SQLite journal seen during the run; null for the in-memory dev server. */
  journal?: 'WAL' | 'rollback' | null;
}

const PROBE = path.join(__dirname, 'eld-probe.mjs');
/** The variant of the one dev process without its inbox. */
export const DEV_DIRECT = 'dev (direct hand-off)';
/** The journal a file-backed dev server's database is in: WAL keeps a `-wal` file while open. */
function journalOf(dbFile: string): 'WAL' | 'rollback' {
  return existsSync(`${dbFile}-wal`) ? 'WAL' : 'rollback';
}

/** The Temporal CLI behind a wrapper that drops `--sqlite-pragma` (the CLI it runs: TEMPORAL_WRAPPED_CLI). */
const WITHOUT_SQLITE_PRAGMAS = path.join(__dirname, 'temporal-without-sqlite-pragmas.sh');

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

/** The warm-up's app: the measured app's workflows are counted alone. */
const WARM_APP = '700009';

/** Start callbacks of new lifecycles through HTTP; delivered once `appId` has as many workflows in Temporal. */
async function load(
  url: string,
  temporalAddress: string,
  appId: string,
  prefix: string,
  n: number,
  concurrency: number,
): Promise<LoadResult & { deliveredMs: number }> {
  const poster = new HttpPoster(`${url}/zego/callback`, concurrency);
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const warm = startCallbacks(WARM_APP, `${prefix}-warm`, concurrency * 2);
    await closedLoop(warm.length, concurrency, (i) => poster.post(warm[i].body, warm[i].contentType));
    const cbs = startCallbacks(appId, prefix, n);
    const t0 = Date.now();
    const res = await closedLoop(n, concurrency, (i) => poster.post(cbs[i].body, cbs[i].contentType));
    const client = new Client({ connection, namespace: 'default' });
    const workflows = async () => (await client.workflow.count(`ZegoAppId = '${appId}'`)).count;
    const got = await waitForCount(workflows, res.ok, 300_000, 50);
    if (got < res.ok) throw new Error(`${prefix}: ${got}/${res.ok} workflows in Temporal after 300 s`);
    return { ...res, deliveredMs: Date.now() - t0 };
  } finally {
    poster.close();
    await connection.close();
  }
}

function summarize(
  variant: string,
  description: string,
  r: LoadResult & { deliveredMs?: number },
  cpu: Record<string, number>,
  eld: { p99: number; max: number } | null,
  journal: DevVariantResult['journal'],
): DevVariantResult {
  return {
    variant,
    description,
    throughput: r.throughput,
    delivery: r.deliveredMs === undefined ? r.throughput : (r.ok * 1000) / r.deliveredMs,
    p50: percentile(r.latenciesMs, 0.5),
    p99: percentile(r.latenciesMs, 0.99),
    eventLoopDelayP99: eld?.p99 ?? null,
    eventLoopDelayMax: eld?.max ?? null,
    cpu,
    outcomes: r.outcomes,
    journal,
  };
}

/** Signal-with-start from a plain client (no HTTP), `n` new lifecycles, against the dev server at `address`. */
async function rawLoad(
  address: string,
  queue: string,
  appId: string,
  prefix: string,
  n: number,
  concurrency: number,
  onStart: () => void,
): Promise<LoadResult> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: 'default' });
    const gateway = benchGateway(client, queue);
    const payloads = startCallbacks(appId, `${prefix}-${Date.now()}`, n).map((c) => payloadOf(c));
    onStart();
    return await closedLoop(n, concurrency, async (i) => {
      await gateway.deliver(payloads[i]);
      return 'ok';
    });
  } finally {
    await connection.close();
  }
}

/** src/main/dev.ts (or `entry`, its direct-hand-off twin) as a child (its dev server is its own child). */
async function devProcess(
  stack: Stack,
  name: string,
  extraEnv: Record<string, string>,
  entry: string,
): Promise<{
  child: Child;
  url: string;
  temporalAddress: string;
  probe: string;
  temporalPid: () => number;
  dbFile: string;
}> {
  const dataDir = path.join(stack.dir, name);
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const temporalPort = await freePort();
  const probe = path.join(stack.dir, `${name}-eld.jsonl`);
  const child = await spawnChild({
    entry,
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
      TEMPORAL_DEV_PORT: String(temporalPort),
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
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    temporalAddress: `127.0.0.1:${temporalPort}`,
    probe,
    temporalPid,
    dbFile: path.join(dataDir, 'temporal.db'),
  };
}

export async function devModeInvestigation(
  stack: Stack,
  opts: { n: number; concurrency: number; log: (line: string) => void },
): Promise<DevVariantResult[]> {
  const { n, concurrency, log } = opts;
  const results: DevVariantResult[] = [];

  // For the wrapper, in the dev processes (their environment) and in this one (startDevServer's).
  process.env.TEMPORAL_WRAPPED_CLI = stack.cliPath;
  const shippedPragmas = DEV_SERVER_SQLITE_PRAGMAS.map((p) => `--sqlite-pragma ${p}`).join(' ');

  // 1. to 3. The one-process dev mode: as shipped (WAL), as before (rollback journal), with PostgreSQL.
  const dev = 'src/main/dev.ts';
  const devVariants: [string, string, Record<string, string>, string][] = [
    [
      'dev',
      `\`npm run dev\` as shipped: one process (worker + HTTP with its inbox in PGlite, on its own thread), SQLite-file dev server in WAL mode (${shippedPragmas})`,
      {},
      dev,
    ],
    [
      DEV_DIRECT,
      'the same one process, the HTTP server handing each callback to Temporal before answering (no inbox: the dev mode before it)',
      {},
      path.relative(ROOT, path.join(__dirname, 'dev-direct.ts')),
    ],
    [
      'dev (rollback journal)',
      'before WAL: the shipped one process with the dev server started without `--sqlite-pragma` (SQLite default journal)',
      { TEMPORAL_CLI_PATH: WITHOUT_SQLITE_PRAGMAS, TEMPORAL_WRAPPED_CLI: stack.cliPath },
      dev,
    ],
  ];
  if (stack.database.kind === 'postgres') {
    devVariants.push([
      'dev+postgres',
      'the shipped one process (WAL), PostgreSQL (DATABASE_URL) instead of PGlite',
      { DATABASE_URL: stack.database.url },
      dev,
    ]);
  }
  for (const [name, description, env, entry] of devVariants) {
    const proc = await devProcess(stack, name, env, entry);
    try {
      const pids = {
        'dev process': proc.child.pid,
        'temporal (file)': proc.temporalPid(),
        bench: process.pid,
      };
      const w = watchCpu(pids);
      const t0 = Date.now();
      const r = await load(proc.url, proc.temporalAddress, '700001', `${name}-${Date.now()}`, n, concurrency);
      const cpu = cpuSince(w, r.durationMs);
      const journal = journalOf(proc.dbFile);
      results.push(summarize(name, description, r, cpu, probeWindow(proc.probe, t0, Date.now()), journal));
      log(
        `  ${name}: p50 ${percentile(r.latenciesMs, 0.5).toFixed(0)} ms, ${r.throughput.toFixed(0)}/s acknowledged, ` +
          `${results.at(-1)?.delivery.toFixed(0)}/s delivered (journal: ${journal})`,
      );
    } finally {
      await proc.child.stop(30_000);
    }
  }

  // 4. and 5. The same pieces in separate processes, and raw signal-with-start, against a file-backed
  // dev server as shipped (WAL).
  const dir = path.join(stack.dir, 'split');
  mkdirSync(dir, { recursive: true });
  let temporal: DevServer | undefined;
  const children: Child[] = [];
  try {
    const dbFile = path.join(dir, 'temporal.db');
    temporal = await startDevServer({
      cliPath: stack.cliPath,
      headless: true,
      logLevel: 'error',
      dbFilename: dbFile,
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
    const r = await load(
      `http://127.0.0.1:${port}`,
      temporal.address,
      '700002',
      `split-${Date.now()}`,
      n,
      concurrency,
    );
    results.push(
      summarize(
        'split',
        'the same pieces in three processes: server, worker (PGlite), SQLite-file dev server (WAL)',
        r,
        cpuSince(w, r.durationMs),
        probeWindow(probe, t0, Date.now()),
        journalOf(dbFile),
      ),
    );
    log(`  split: p50 ${percentile(r.latenciesMs, 0.5).toFixed(0)} ms, ${r.throughput.toFixed(0)}/s`);

    const raw = await rawLoad(temporal.address, queue, '700003', 'rawfile', n, concurrency, () => {
      w = watchCpu(pids);
    });
    results.push(
      summarize(
        'raw (file)',
        'signal-with-start from a plain client (no HTTP) against the SQLite-file dev server as shipped (WAL)',
        raw,
        cpuSince(w, raw.durationMs),
        null,
        journalOf(dbFile),
      ),
    );
    log(
      `  raw (file): p50 ${percentile(raw.latenciesMs, 0.5).toFixed(0)} ms, ${raw.throughput.toFixed(0)}/s`,
    );
  } finally {
    await Promise.all(children.map((c) => c.kill()));
    await temporal?.stop();
  }

  // 6. Raw against a file-backed dev server started as before WAL (no `--sqlite-pragma`).
  const oldDir = path.join(stack.dir, 'rollback');
  mkdirSync(oldDir, { recursive: true });
  const oldDb = path.join(oldDir, 'temporal.db');
  const old = await startDevServer({
    cliPath: WITHOUT_SQLITE_PRAGMAS,
    headless: true,
    logLevel: 'error',
    dbFilename: oldDb,
  });
  try {
    const queue = 'bench-rollback';
    const worker = await spawnWorker(
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: old.address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_CONFIG_FILE: path.join(stack.dir, 'no-temporal.toml'),
        TEMPORAL_TASK_QUEUE: queue,
        DATA_DIR: oldDir,
        WORKFLOW_BUNDLE_PATH: stack.bundlePath,
        ...SERVICE_ENV,
      },
      path.join(oldDir, 'worker.log'),
    );
    try {
      let w = watchCpu({});
      const raw = await rawLoad(old.address, queue, '700005', 'rawold', n, concurrency, () => {
        w = watchCpu({ worker: worker.pid, 'temporal (file)': old.process.pid ?? -1, bench: process.pid });
      });
      const journal = journalOf(oldDb);
      results.push(
        summarize(
          'raw (file, rollback journal)',
          'before: the same against a SQLite-file dev server started without `--sqlite-pragma`',
          raw,
          cpuSince(w, raw.durationMs),
          null,
          journal,
        ),
      );
      log(
        `  raw (file, rollback journal): p50 ${percentile(raw.latenciesMs, 0.5).toFixed(0)} ms, ${raw.throughput.toFixed(0)}/s (journal: ${journal})`,
      );
    } finally {
      await worker.kill();
    }
  } finally {
    await old.stop();
  }

  // 7. Raw against the in-memory dev server (the other benchmarks' one), same client code.
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
