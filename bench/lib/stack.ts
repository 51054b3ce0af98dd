/**
 * What every benchmark runs against: ONE Temporal dev server (started here), PostgreSQL (a fresh
 * database, or PGlite when none is reachable), the workflow bundles built once (the service's
 * workflows plus `benchTrivial`; plain, and with the OpenTelemetry workflow interceptors as a
 * tracing worker loads them), and the service's worker and HTTP server as child processes (their
 * own RSS and CPU), plus a client of the bench's own for raw Temporal calls.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { lifecycleSettings, loadServerConfig } from '../../src/config';
import { locateTemporalCli } from '../../tools/temporal-cli';
import { freePort } from '../../tools/process/ports';
import { startDevServer, type DevServer } from '../../tools/temporal-dev-server';
import { TemporalLifecycleGateway } from '../../src/temporal/lifecycle-gateway';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { bundleLifecycleWorkflows } from '../../src/temporal/worker';
import { compiledWorkerEntry } from './compiled-service';
import { readCallback } from '../../src/zego/callback';
import type { CallbackSignalPayload } from '../../workflows/definitions';
import { createTestDatabase, type TestDatabase } from '../../tools/postgres/test-database';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';
import { serviceEnv, spawnServer, spawnWorker, type Child } from '../../tools/process/service-children';
import { imageEnv } from './image-env';

export const BENCH_SECRET = 'bench-callback-secret';
/** The service's workflows plus benchTrivial (section 4's baseline). */
const WORKFLOWS = path.join(__dirname, '..', 'workflows.ts');

/** The service settings of every benchmark child (production defaults except a short linger). */
export const SERVICE_ENV: Record<string, string> = {
  ZEGO_CALLBACK_SECRET: BENCH_SECRET,
  ZEGO_CALLBACK_MAX_SKEW: '1h',
  LIFECYCLE_LINGER: '2s',
  HANDOFF_TIMEOUT: '5s',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
};

export interface Stack {
  dir: string;
  cliPath: string;
  temporal: DevServer;
  /** The bench's own client (raw calls, counts). */
  client: Client;
  connection: Connection;
  /**
   * The workflow bundle of a worker without tracing, as `bundleLifecycleWorkflows()` builds it (no
   * workflow interceptor modules): what the service's worker loads by default.
   */
  bundlePath: string;
  /** A tracing worker's: as `bundleLifecycleWorkflows({ tracing: true })`, with the OpenTelemetry interceptors. */
  tracingBundlePath: string;
  database: { kind: 'postgres'; url: string } | { kind: 'pglite' };
  /** The image's MALLOC_ARENA_MAX (the Dockerfile), which the server and worker children run with. */
  mallocArenaMax: string | undefined;
  /** PostgreSQL pool for counting ledger and registry rows (null with PGlite). */
  pool: Pool | null;
  /**
   * `root`: run the worker from another checkout (a patched copy, to measure a proposed fix);
   * `bundle`: `plain` (default, tracing off, as shipped) or `tracing`: the tracing bundle, with
   * tracing on, exporting OTLP to the bench's own collector, which discards what it gets
   * (`traceExports`); `compiled`: this checkout compiled, run with plain node as the Dockerfile
   * runs it (compiled-service.ts), not with tsx.
   */
  startWorker(
    taskQueue: string,
    /** Extra environment; a variable set to undefined is left out (e.g. one the image sets). */
    env?: Record<string, string | undefined>,
    opts?: { root?: string; bundle?: 'plain' | 'tracing'; compiled?: boolean },
  ): Promise<Child>;
  /** What the tracing workers exported to the bench's collector so far. */
  traceExports(): { requests: number; bytes: number };
  /**
   * The HTTP server on `taskQueue`: `inbox` (default, DATABASE_URL set: callbacks recorded in
   * PostgreSQL, answered, relayed to Temporal behind) or `direct` (no DATABASE_URL: handed to
   * Temporal before the answer); `nodeArgs` e.g. `--cpu-prof`.
   */
  startServer(
    taskQueue: string,
    opts?: { env?: Record<string, string>; mode?: 'inbox' | 'direct'; nodeArgs?: string[]; name?: string },
  ): Promise<{ child: Child; url: string }>;
  gateway(taskQueue: string): TemporalLifecycleGateway;
  close(): Promise<void>;
}

export async function startStack(log: (line: string) => void): Promise<Stack> {
  const dir = mkdtempSync(path.join(tmpdir(), 'zego-bench-'));
  const cliPath = await locateTemporalCli();
  const temporal = await startDevServer({ cliPath, headless: true, logLevel: 'error' });
  log(`Temporal dev server (in memory) at ${temporal.address}`);
  const connection = await Connection.connect({ address: temporal.address });
  await ensureSearchAttributes(connection, 'default');
  const client = new Client({ connection, namespace: 'default' });

  const started = Date.now();
  // The service's own bundles, with webpack's chatter kept out of the bench's output.
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => log(m), log() {} };
  const bundle = async (file: string, tracing: boolean) => {
    writeFileSync(file, await bundleLifecycleWorkflows({ tracing, logger: quiet, workflowsPath: WORKFLOWS }));
    return file;
  };
  const bundlePath = await bundle(path.join(dir, 'workflow-bundle.js'), false);
  const tracingBundlePath = await bundle(path.join(dir, 'workflow-bundle.tracing.js'), true);
  log(`workflow bundles built in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  let testDb: TestDatabase | null = null;
  let pool: Pool | null = null;
  try {
    testDb = await createTestDatabase();
    pool = new Pool({ connectionString: testDb.url, max: 2 });
    log(`PostgreSQL database ${testDb.name}`);
  } catch (err) {
    log(`no PostgreSQL (${(err as Error).message.split('\n')[0]}): the worker uses PGlite`);
  }
  const database = testDb ? { kind: 'postgres' as const, url: testDb.url } : { kind: 'pglite' as const };

  const children: Child[] = [];
  let collector: { url: string; server: http.Server } | null = null;
  const exported = { requests: 0, bytes: 0 };
  /** An OTLP/HTTP endpoint on loopback that answers 200 and drops the spans (started on first use). */
  const traceCollector = async (): Promise<string> => {
    if (collector) return collector.url;
    const server = http.createServer((req, res) => {
      req.on('data', (chunk: Buffer) => (exported.bytes += chunk.length));
      req.on('end', () => {
        exported.requests++;
        res.writeHead(200, {
          'content-type': String(req.headers['content-type'] ?? 'application/x-protobuf'),
        });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    collector = { url: `http://127.0.0.1:${port}/v1/traces`, server };
    log(`OTLP collector (discards spans) at ${collector.url}`);
    return collector.url;
  };
  // The server's and the worker's processes run with what the image sets for them (the Dockerfile).
  const mallocArenaMax = imageEnv('MALLOC_ARENA_MAX');
  const baseEnv = (taskQueue: string, env: Record<string, string | undefined>) => ({
    ...serviceEnv({
      temporalAddress: temporal.address,
      dir,
      taskQueue,
      dataDir: path.join(dir, `data-${taskQueue}`),
      workflowBundlePath: bundlePath,
      databaseUrl: testDb?.url,
    }),
    ...SERVICE_ENV,
    ...(mallocArenaMax ? { MALLOC_ARENA_MAX: mallocArenaMax } : {}),
    ...env,
  });
  const stack: Stack = {
    dir,
    cliPath,
    temporal,
    client,
    connection,
    bundlePath,
    tracingBundlePath,
    database,
    pool,
    mallocArenaMax,
    async startWorker(taskQueue, env = {}, opts = {}) {
      if (opts.compiled && opts.root) throw new Error('a compiled worker runs from this checkout only');
      // Tracing on (src/telemetry.ts: an OTLP endpoint alone selects the otlp exporter).
      const bundleEnv: Record<string, string> =
        opts.bundle === 'tracing'
          ? {
              WORKFLOW_BUNDLE_PATH: tracingBundlePath,
              OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: await traceCollector(),
            }
          : {};
      const child = await spawnWorker(
        baseEnv(taskQueue, { ...bundleEnv, ...env }),
        path.join(dir, `worker-${taskQueue}.log`),
        { root: opts.root, ...(opts.compiled ? { entry: await compiledWorkerEntry() } : {}) },
      );
      children.push(child);
      return child;
    },
    async startServer(taskQueue, opts = {}) {
      const port = await freePort();
      const env: Record<string, string | undefined> = baseEnv(taskQueue, { PORT: String(port), ...opts.env });
      if (opts.mode === 'direct') delete env.DATABASE_URL;
      const child = await spawnServer(env, path.join(dir, `${opts.name ?? 'server'}-${taskQueue}.log`), {
        nodeArgs: opts.nodeArgs,
      });
      children.push(child);
      return { child, url: `http://127.0.0.1:${port}` };
    },
    traceExports: () => ({ ...exported }),
    gateway: (taskQueue) => benchGateway(client, taskQueue),
    async close() {
      await Promise.all(children.map((c) => c.kill()));
      await new Promise((resolve) => (collector ? collector.server.close(resolve) : resolve(undefined)));
      await connection.close().catch(() => undefined);
      await pool?.end().catch(() => undefined);
      await temporal.stop();
      await testDb?.drop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** The server's own signal-with-start (same settings as the bench's servers), from `client`. */
export function benchGateway(client: Client, taskQueue: string): TemporalLifecycleGateway {
  const config = loadServerConfig({ ...SERVICE_ENV, TEMPORAL_TASK_QUEUE: taskQueue });
  return new TemporalLifecycleGateway({
    client,
    taskQueue,
    settings: lifecycleSettings(config),
    handoffTimeoutMs: config.handoffTimeoutMs,
  });
}

export interface Callback {
  body: string;
  contentType: string;
}

/** The start Timestamp of every bench task: 10 minutes ago (their stops are stamped now). */
export const START_AGE_SECONDS = 600;

/** Signed start callbacks (JSON, one 720p output) of tasks `${prefix}-from..from+n-1`. */
export function startCallbacks(
  appId: string,
  prefix: string,
  n: number,
  opts: { from?: number; nowSeconds?: number; secret?: string } = {},
): Callback[] {
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const ts = String(now - START_AGE_SECONDS);
  const from = opts.from ?? 0;
  return Array.from({ length: n }, (_, i) =>
    encodeCallback(
      transcodeStart(
        { Appid: appId, TaskId: `${prefix}-${from + i}`, UserId: `u-${from + i}` },
        { secret: opts.secret ?? BENCH_SECRET, timestamp: ts },
      ),
    ),
  );
}

/** Their stops (Sequence 1), stamped START_AGE_SECONDS after the starts: 10 billable minutes each. */
export function stopCallbacks(
  appId: string,
  prefix: string,
  n: number,
  opts: { from?: number; startNowSeconds: number; secret?: string },
): Callback[] {
  const ts = String(opts.startNowSeconds);
  const from = opts.from ?? 0;
  return Array.from({ length: n }, (_, i) =>
    encodeCallback(
      transcodeStop(
        { Appid: appId, TaskId: `${prefix}-${from + i}`, Sequence: 1 },
        { secret: opts.secret ?? BENCH_SECRET, timestamp: ts },
      ),
    ),
  );
}

/** The payload the server would signal for a callback (what raw signal-with-start sends). */
export function payloadOf(cb: Callback, secret = BENCH_SECRET): CallbackSignalPayload {
  const read = readCallback(Buffer.from(cb.body), cb.contentType, {
    secrets: [secret],
    maxSkewMs: 3_600_000,
  });
  if (read.kind !== 'transcode') throw new Error(`bench callback does not read: ${JSON.stringify(read)}`);
  return { ...read.callback, receivedAt: new Date().toISOString() };
}
