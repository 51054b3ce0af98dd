/**
 * A real Temporal Server cluster on this machine, without Docker: the version docker-compose.yml
 * pins (built once into `.cache/temporal-server/<version>/`), PostgreSQL persistence and SQL
 * visibility in databases of its own, several history shards, every service in one process on free
 * ports, and a namespace that takes workflow starts before this resolves.
 *
 *   const cluster = await startTemporalCluster({ logger: console.error });
 *   await cluster.kill();   // an outage: SIGKILL
 *   await cluster.start();  // back on the same ports and databases
 *   await cluster.destroy(); // stopped, databases dropped (unless kept)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { findProjectRoot } from '../project';
import { waitUntilServing } from '../temporal-dev-server/serving';
import { locateClusterBinaries, type ClusterBinaries, type Logger } from './binaries';
import { writeClusterConfig, type ClusterPorts } from './config';
import { registerNamespace, waitUntilUsable } from './namespace';
import { allocatePorts } from './ports';
import { testPostgresUrl } from '../postgres/test-database';
import { dropDatabases, postgresTarget, SCHEMAS, setUpDatabase } from './postgres';
import { registerKeywordSearchAttributes } from './search-attributes';
import { spawnServer, type ServerProcess } from './server-process';
import { pinnedServerVersion } from './version';

/** History shards of a cluster (and of docker-compose.yml's NUM_HISTORY_SHARDS). */
export const DEFAULT_SHARDS = 4;

export interface TemporalClusterOptions {
  /**
   * Names the databases (`temporal_<dataName>`, `temporal_visibility_<dataName>`): reused when they
   * exist, kept by destroy(). Default: a random name, dropped by destroy().
   */
  dataName?: string;
  /** Keep the databases on destroy(). Default: true with a dataName, else false. */
  keep?: boolean;
  /** History shards; fixed once the databases exist. Default DEFAULT_SHARDS (4). */
  shards?: number;
  /** Registered at the first start (retention 24 h). Default "default". */
  namespace?: string;
  /** Custom Keyword search attributes to register, and to wait for until usable. */
  keywordSearchAttributes?: string[];
  /** Default: TEST_POSTGRES_URL, else DEFAULT_TEST_POSTGRES_URL (tools/postgres/test-database.ts). */
  postgresUrl?: string;
  /** Default 127.0.0.1. */
  ip?: string;
  /** Frontend gRPC port; a free one when 0 or undefined. */
  port?: number;
  /** Server log level (debug, info, warn, error). Default warn. */
  logLevel?: string;
  /** Progress lines. */
  logger?: Logger;
  /** The server's own output lines (kept for error messages either way). */
  serverLogger?: Logger;
  /** For each start, until the namespace is usable. Default 120 s. */
  startTimeoutMs?: number;
  /** Default: the version docker-compose.yml pins. */
  version?: string;
  projectRoot?: string;
}

export interface ClusterTimings {
  /** Finding (or building) the server and sql tool. */
  binariesMs: number;
  /** Databases created and migrated. */
  schemaMs: number;
  /** Last start: spawn until the frontend answers. */
  serverMs: number;
  /** Last start: namespace (and search attributes) registered until a workflow start takes them. */
  namespaceMs: number;
  /** How long the search attributes took to become usable after registration (first start). */
  searchAttributesMs: number | null;
  /** What a start with them was refused with meanwhile (first start). */
  searchAttributesFirstError: string | null;
}

export interface TemporalCluster {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  version: string;
  shards: number;
  databases: { main: string; visibility: string };
  ports: ClusterPorts;
  binaries: ClusterBinaries;
  timings: ClusterTimings;
  /** The current server process. */
  readonly process: ChildProcess;
  running(): boolean;
  /** Starts the server again (same ports, same databases) unless it runs; resolves once usable. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period. Keeps the databases. */
  stop(): Promise<void>;
  /** SIGKILL: an outage. Keeps the databases. */
  kill(): Promise<void>;
  /** Stops and drops the databases (unless kept). Idempotent. */
  destroy(): Promise<void>;
}

export async function startTemporalCluster(opts: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const log = opts.logger ?? (() => undefined);
  const projectRoot = opts.projectRoot ?? findProjectRoot(__dirname);
  const version = opts.version ?? pinnedServerVersion(projectRoot);
  const shards = opts.shards ?? DEFAULT_SHARDS;
  const namespace = opts.namespace ?? 'default';
  const ip = opts.ip ?? '127.0.0.1';
  const timeoutMs = opts.startTimeoutMs ?? 120_000;
  const id = databaseSuffix(opts.dataName);
  const keep = opts.keep ?? opts.dataName !== undefined;
  const postgres = opts.postgresUrl
    ? postgresTarget(opts.postgresUrl, 'postgresUrl')
    : postgresTarget(testPostgresUrl(), 'TEST_POSTGRES_URL');
  const databases = { main: `temporal_${id}`, visibility: `temporal_visibility_${id}` };

  let t = Date.now();
  const binaries = await locateClusterBinaries({ version, projectRoot, logger: log });
  const timings: ClusterTimings = {
    binariesMs: Date.now() - t,
    schemaMs: 0,
    serverMs: 0,
    namespaceMs: 0,
    searchAttributesMs: null,
    searchAttributesFirstError: null,
  };

  t = Date.now();
  try {
    await setUpDatabase(binaries.sql, postgres, databases.main, SCHEMAS.main, log);
    await setUpDatabase(binaries.sql, postgres, databases.visibility, SCHEMAS.visibility, log);
  } catch (err) {
    // Half-made databases of a throwaway cluster would only pile up.
    if (!keep) await dropDatabases(postgres, [databases.main, databases.visibility]).catch(() => undefined);
    throw err;
  }
  timings.schemaMs = Date.now() - t;

  const ports = await allocatePorts(ip, opts.port);
  const address = `${ip.includes(':') ? `[${ip}]` : ip}:${ports.frontend}`;
  const dir = mkdtempSync(path.join(tmpdir(), `temporal-cluster-${id}-`));
  writeClusterConfig(dir, { ip, ports, shards, postgres, databases, logLevel: opts.logLevel ?? 'warn' });

  let server: ServerProcess | null = null;
  let firstStart = true;
  const startOnce = async () => {
    const current = spawnServer({ serverPath: binaries.server, rootDir: dir, logger: opts.serverLogger });
    server = current;
    const started = Date.now();
    try {
      // The system namespace exists from the first start: its answer means the frontend serves.
      await waitUntilServing(address, 'temporal-system', timeoutMs, current.exited);
      timings.serverMs = Date.now() - started;
      const ready = Date.now();
      const connection = await Connection.connect({ address });
      try {
        if (firstStart) {
          const outcome = await registerNamespace(connection, namespace);
          log(
            `namespace ${namespace} ${outcome === 'created' ? 'registered (retention 24h)' : 'already there'}`,
          );
        }
        const names = opts.keywordSearchAttributes ?? [];
        if (firstStart && names.length) {
          await waitUntilUsable({ connection, namespace, timeoutMs, logger: log });
          const added = await registerKeywordSearchAttributes(connection, namespace, names);
          if (added.length) log(`search attributes added: ${added.join(', ')}`);
        }
        const saStarted = Date.now();
        const usable = await waitUntilUsable({
          connection,
          namespace,
          searchAttributes: names,
          timeoutMs: Math.max(1_000, started + timeoutMs - Date.now()),
          logger: log,
        });
        if (firstStart && names.length) {
          timings.searchAttributesMs = Date.now() - saStarted;
          timings.searchAttributesFirstError = usable.firstError;
        }
      } finally {
        await connection.close().catch(() => undefined);
      }
      timings.namespaceMs = Date.now() - ready;
      firstStart = false;
    } catch (err) {
      const exitedByItself = current.hasExited();
      await current.stop(2_000);
      const why = exitedByItself
        ? `exited with code ${current.process.exitCode ?? current.process.signalCode}`
        : '';
      const tail = current.tail().slice(-20);
      throw new Error(
        `Temporal Server ${version} (${binaries.server}) did not become usable at ${address}: ` +
          `${why || (err as Error).message}${tail.length ? `\n--- last output ---\n${tail.join('\n')}` : ''}`,
        { cause: err },
      );
    }
    log(
      `Temporal Server ${version} ready at ${address} (pid ${current.process.pid}, ${shards} shards, ` +
        `databases ${databases.main} + ${databases.visibility}) in ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
  };

  let destroyed: Promise<void> | null = null;
  const destroy = () => {
    destroyed ??= (async () => {
      await server?.stop();
      if (!keep) await dropDatabases(postgres, [databases.main, databases.visibility]);
      rmSync(dir, { recursive: true, force: true });
    })();
    return destroyed;
  };

  try {
    await startOnce();
  } catch (err) {
    await destroy().catch(() => undefined);
    throw err;
  }

  const isRunning = () => server !== null && !server.hasExited();
  return {
    address,
    namespace,
    version,
    shards,
    databases,
    ports,
    binaries,
    timings,
    get process() {
      if (!server) throw new Error('the cluster has not started');
      return server.process;
    },
    running: isRunning,
    async start() {
      if (destroyed) throw new Error('the cluster was destroyed');
      if (!isRunning()) await startOnce();
    },
    async stop() {
      await server?.stop();
    },
    async kill() {
      await server?.kill();
    },
    destroy,
  };
}

/** `[a-z0-9_]`, short enough for `temporal_visibility_<it>` to stay a PostgreSQL identifier. */
function databaseSuffix(dataName: string | undefined): string {
  if (dataName === undefined) return randomBytes(6).toString('hex');
  if (!/^[a-z0-9_]{1,40}$/.test(dataName)) {
    throw new Error(`dataName ${JSON.stringify(dataName)} must be 1-40 characters of a-z, 0-9 and _`);
  }
  return dataName;
}
