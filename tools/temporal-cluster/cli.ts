/**
 * `npm run temporal:cluster [-- options]`: a real Temporal Server cluster in the foreground (see
 * index.ts). Prints the address on stdout, progress on stderr; Ctrl-C stops it.
 */
import { parseArgs } from 'node:util';
import { requiredSearchAttributes } from '../../src/temporal/search-attributes';
import { DEFAULT_TEST_POSTGRES_URL } from '../postgres/test-database';
import { findProjectRoot } from '../project';
import { locateClusterBinaries } from './binaries';
import { startTemporalCluster } from './index';
import { pinnedServerVersion } from './version';

const USAGE = `usage: npm run temporal:cluster -- [options]

  --data <name>          keep the databases temporal_<name> and temporal_visibility_<name>
                         (reused next time); default: fresh ones, dropped on exit
  --shards <n>           history shards (default 4; fixed once the databases exist)
  --port <n>             frontend gRPC port (default: a free one)
  --namespace <name>     namespace to register (default "default")
  --no-search-attributes do not register this service's search attributes (a fresh namespace,
                         as a new user's cluster has it; the worker then registers them)
  --log-level <level>    server log level: debug, info, warn, error (default warn)
  --binaries-only        find or build the server and its sql tool, print their paths, exit
  -h, --help

PostgreSQL: TEST_POSTGRES_URL (default ${DEFAULT_TEST_POSTGRES_URL}).`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function integer(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${flag} must be an integer from ${min} to ${max}`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        data: { type: 'string' },
        shards: { type: 'string' },
        port: { type: 'string' },
        namespace: { type: 'string' },
        'no-search-attributes': { type: 'boolean' },
        'log-level': { type: 'string' },
        'binaries-only': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`[temporal-cluster] ${line}\n`);
  if (values['binaries-only']) {
    const projectRoot = findProjectRoot(__dirname);
    const version = pinnedServerVersion(projectRoot);
    const binaries = await locateClusterBinaries({ version, projectRoot, logger: log });
    log(`Temporal Server ${version} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    process.stdout.write(`${binaries.server}\n${binaries.sql}\n`);
    return;
  }
  const cluster = await startTemporalCluster({
    dataName: values.data,
    shards: integer(values.shards, '--shards', 1, 16384),
    port: integer(values.port, '--port', 1, 65535),
    namespace: values.namespace,
    keywordSearchAttributes: values['no-search-attributes'] ? [] : Object.keys(requiredSearchAttributes()),
    logLevel: values['log-level'],
    logger: log,
    serverLogger: (line) => process.stderr.write(`[temporal-server] ${line}\n`),
  });
  const t = cluster.timings;
  log(
    `ready in ${((Date.now() - started) / 1000).toFixed(1)}s (binaries ${t.binariesMs} ms, schema ${t.schemaMs} ms, ` +
      `server ${t.serverMs} ms, namespace ${t.namespaceMs} ms)`,
  );
  log(
    `Temporal Server ${cluster.version}, ${cluster.shards} history shards, namespace ${cluster.namespace}, ` +
      `databases ${cluster.databases.main} + ${cluster.databases.visibility}` +
      (values.data ? ' (kept)' : ' (dropped on exit)'),
  );
  log(
    `use it with: TEMPORAL_ADDRESS=${cluster.address} npm run worker (and npm run server); Ctrl-C stops it`,
  );
  process.stdout.write(`${cluster.address}\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    cluster.destroy().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`stopping failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // The server going away by itself ends this too.
  cluster.process.once('exit', (code, signal) => {
    // Ctrl-C reaches the server too (same process group): let our own SIGINT handler run first.
    setTimeout(() => {
      if (stopping) return;
      stopping = true;
      log(`the server exited by itself (${code ?? signal})`);
      void cluster.destroy().finally(() => process.exit(1));
    }, 200);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
