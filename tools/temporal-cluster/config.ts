/**
 * The Temporal Server's static and dynamic configuration for one local cluster: PostgreSQL for
 * persistence and (SQL) visibility, every service in one process on its own free ports, a fixed
 * number of history shards. Written as JSON, which YAML readers take as it is.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PostgresTarget } from './postgres';

export interface ClusterPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

export const PORT_NAMES: (keyof ClusterPorts)[] = [
  'frontend',
  'frontendHttp',
  'frontendMembership',
  'history',
  'historyMembership',
  'matching',
  'matchingMembership',
  'worker',
  'workerMembership',
];

export interface ClusterConfigInput {
  ip: string;
  ports: ClusterPorts;
  shards: number;
  postgres: PostgresTarget;
  databases: { main: string; visibility: string };
  /** Absolute path of the dynamic config file (a relative one would be read from the cwd). */
  dynamicConfigFile: string;
  logLevel: string;
}

/** Where `temporal --root <dir> --config config --env development start` looks. */
export function configFile(dir: string): string {
  return path.join(dir, 'config', 'development.yaml');
}

export function dynamicConfigFile(dir: string): string {
  return path.join(dir, 'dynamicconfig.yaml');
}

/**
 * Connection pools per datastore and per service (frontend, history, matching and worker each
 * have their own). Upstream's sample sizes (20 and 2, all kept idle) held 36 connections per idle
 * cluster; two clusters (the suite's and resilience's or chaos's own) next to the tests' databases
 * ran PostgreSQL's default max_connections of 100 out ("sorry, too many clients already").
 */
export const POOLS = {
  main: { maxConns: 10, maxIdleConns: 2 },
  visibility: { maxConns: 4, maxIdleConns: 1 },
};

export function clusterConfig(input: ClusterConfigInput): Record<string, unknown> {
  const { ip, ports, postgres } = input;
  if (!Number.isInteger(input.shards) || input.shards < 1)
    throw new Error('shards must be a positive integer');
  const sql = (databaseName: string, pool: { maxConns: number; maxIdleConns: number }) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${postgres.host.includes(':') ? `[${postgres.host}]` : postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: postgres.password,
      ...pool,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, httpPort?: number) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: ip, ...(httpPort ? { httpPort } : {}) },
  });
  const frontendAddress = `${ip}:${ports.frontend}`;
  return {
    log: { stdout: true, level: input.logLevel },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: input.shards,
      datastores: {
        'postgres-default': sql(input.databases.main, POOLS.main),
        'postgres-visibility': sql(input.databases.visibility, POOLS.visibility),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: ip },
      // No pprof and no metrics listener: fewer ports to collide on.
      pprof: { port: 0 },
    },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, ports.frontendHttp),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: frontendAddress,
          httpAddress: `${ip}:${ports.frontendHttp}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    publicClient: { hostPort: frontendAddress },
    dynamicConfigClient: { filepath: input.dynamicConfigFile, pollInterval: '10s' },
  };
}

/**
 * Only what this machine needs; everything else stays at the server's defaults, so the tests see
 * what a user's cluster does (in particular no `system.forceSearchAttributesCacheRefreshOnRead`,
 * which the dev server turns on).
 */
export function dynamicConfig(): Record<string, { value: unknown; constraints: object }[]> {
  return {
    // Offline machines: no phoning home for a version check.
    'frontend.enableServerVersionCheck': [{ value: false, constraints: {} }],
  };
}

export function writeClusterConfig(
  dir: string,
  input: Omit<ClusterConfigInput, 'dynamicConfigFile'>,
): string {
  const file = configFile(dir);
  const dynamicFile = dynamicConfigFile(dir);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(dynamicFile, `${JSON.stringify(dynamicConfig(), null, 2)}\n`);
  const config = clusterConfig({ ...input, dynamicConfigFile: path.resolve(dynamicFile) });
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}
