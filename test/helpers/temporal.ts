/**
 * The Temporal server a test runs against, chosen by TEMPORAL_TEST_SERVER: the CLI's dev server
 * (unset or `dev`: one shard, SQLite) or a real Temporal Server cluster on PostgreSQL (`cluster`,
 * what `npm run test:cluster` sets; tools/temporal-cluster). One shape for both, so "Temporal
 * killed and restarted" in a test means the cluster process under test:cluster.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { locateTemporalCli } from '../../tools/temporal-cli';
import { freePort } from '../../tools/process/ports';
import { startDevServer, type DevServer } from '../../tools/temporal-dev-server';
import { requiredSearchAttributes } from '../../src/temporal/search-attributes';
import { startTemporalCluster } from '../../tools/temporal-cluster';

export type TestServerKind = 'dev-server' | 'cluster';

export function testServerKind(env: NodeJS.ProcessEnv = process.env): TestServerKind {
  const value = env.TEMPORAL_TEST_SERVER ?? '';
  if (value === '' || value === 'dev') return 'dev-server';
  if (value === 'cluster') return 'cluster';
  throw new Error(
    `TEMPORAL_TEST_SERVER must be "dev" (the default) or "cluster", not ${JSON.stringify(value)}`,
  );
}

export interface TestTemporal {
  kind: TestServerKind;
  /** host:port; the same after start(). */
  address: string;
  namespace: string;
  /** The server's current pid. */
  readonly pid: number | undefined;
  /** SIGTERM (SIGKILL after a grace period); the data stays for start(). */
  stop(): Promise<void>;
  /** SIGKILL, an outage; the data stays for start(). */
  kill(): Promise<void>;
  /** Back on the same address with the same data; resolves once it takes workflow starts. */
  start(): Promise<void>;
  /** Stopped for good, its data removed. Idempotent. */
  destroy(): Promise<void>;
}

export interface TestTemporalOptions {
  /** Keep the data across stop/kill and start (the dev server then uses a SQLite file). The
   * cluster always persists (PostgreSQL). Default true. */
  persistent?: boolean;
  /** Where a persistent dev server keeps its SQLite file (left in place by destroy()); default a
   * temporary directory of its own. */
  dataDir?: string;
  /** Progress lines. */
  logger?: (line: string) => void;
  /** The server's own output. */
  serverLogger?: (line: string) => void;
}

export async function startTestTemporal(opts: TestTemporalOptions = {}): Promise<TestTemporal> {
  return testServerKind() === 'cluster' ? startCluster(opts) : startDev(opts);
}

async function startCluster(opts: TestTemporalOptions): Promise<TestTemporal> {
  const cluster = await startTemporalCluster({
    // Registered and waited for before this resolves, as the dev server has them from its start.
    keywordSearchAttributes: Object.keys(requiredSearchAttributes()),
    logger: opts.logger,
    serverLogger: opts.serverLogger,
  });
  return {
    kind: 'cluster',
    address: cluster.address,
    namespace: cluster.namespace,
    get pid() {
      return cluster.process.pid;
    },
    stop: () => cluster.stop(),
    kill: () => cluster.kill(),
    start: () => cluster.start(),
    destroy: () => cluster.destroy(),
  };
}

async function startDev(opts: TestTemporalOptions): Promise<TestTemporal> {
  const persistent = opts.persistent ?? true;
  const cliPath = await locateTemporalCli({ logger: opts.logger });
  const port = await freePort();
  const ownDir = persistent && !opts.dataDir ? mkdtempSync(path.join(tmpdir(), 'zego-temporal-')) : null;
  const dir = persistent ? (opts.dataDir ?? ownDir) : null;
  const launch = () =>
    startDevServer({
      cliPath,
      port,
      headless: true,
      logLevel: 'error',
      dbFilename: dir ? path.join(dir, 'temporal.db') : undefined,
      logger: opts.serverLogger,
    });
  let server: DevServer | null = await launch();
  let destroyed: Promise<void> | null = null;
  const current = server;
  return {
    kind: 'dev-server',
    address: current.address,
    namespace: current.namespace,
    get pid() {
      return server?.process.pid;
    },
    async stop() {
      await server?.stop();
      server = null;
    },
    async kill() {
      server?.process.kill('SIGKILL');
      await server?.stop();
      server = null;
    },
    async start() {
      if (destroyed) throw new Error('this Temporal server was destroyed');
      if (!dir) throw new Error('an in-memory dev server cannot start again with its data');
      server ??= await launch();
    },
    destroy() {
      destroyed ??= (async () => {
        await server?.stop();
        server = null;
        if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      })();
      return destroyed;
    },
  };
}
