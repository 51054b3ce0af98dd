/**
 * The cluster tooling and docker-compose.yml agree: one Temporal version (the server image's tag,
 * which the tooling builds), admin-tools of that version, the shard count, the PostgreSQL major
 * version, and every search attribute the service needs registered with its type. Plus the
 * tooling's pure parts: version parsing, the server config it writes, PostgreSQL URLs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { requiredSearchAttributes } from '../../src/temporal/search-attributes';
import { clusterConfig, POOLS, PORT_NAMES, type ClusterPorts } from '../../tools/temporal-cluster/config';
import { DEFAULT_SHARDS } from '../../tools/temporal-cluster';
import { allocatePorts } from '../../tools/temporal-cluster/ports';
import { postgresTarget } from '../../tools/temporal-cluster/postgres';
import { pinnedServerVersion, serverVersionOf } from '../../tools/temporal-cluster/version';

const ROOT = path.resolve(__dirname, '../..');
const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
/** PostgreSQL major version of this machine's server, which the suites run on (CI: Debian 12's). */
const TESTED_POSTGRES_MAJOR = '15';

describe('docker-compose.yml and the tested cluster', () => {
  const version = pinnedServerVersion(ROOT);

  it('pins one Temporal version: the server image, and admin-tools built for it', () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const adminTools = [...compose.matchAll(/temporalio\/admin-tools:(\S+)/g)].map((m) => m[1]);
    expect(adminTools.length).toBeGreaterThanOrEqual(2);
    for (const tag of adminTools) expect(tag?.startsWith(`${version}-`) || tag === version).toBe(true);
    expect(compose).not.toMatch(/image: temporalio\/auto-setup/);
  });

  it('has the shard count and PostgreSQL major version of the tested cluster', () => {
    expect(compose).toMatch(new RegExp(`NUM_HISTORY_SHARDS: ${DEFAULT_SHARDS}\\n`));
    expect([...compose.matchAll(/image: postgres:(\S+)/g)].map((m) => m[1])).toEqual([TESTED_POSTGRES_MAJOR]);
  });

  it('gives the Temporal server the connection pools of the tested cluster', () => {
    const value = (name: string) => Number(new RegExp(`${name}: (\\d+)\\n`).exec(compose)?.[1]);
    expect(value('SQL_MAX_CONNS')).toBe(POOLS.main.maxConns);
    expect(value('SQL_MAX_IDLE_CONNS')).toBe(POOLS.main.maxIdleConns);
    expect(value('SQL_VIS_MAX_CONNS')).toBe(POOLS.visibility.maxConns);
    expect(value('SQL_VIS_MAX_IDLE_CONNS')).toBe(POOLS.visibility.maxIdleConns);
  });

  it('registers every search attribute the service needs, each with its own --type', () => {
    const created = [...compose.matchAll(/--name (\w+) --type (\w+)/g)].map((m) => [m[1], m[2]]);
    const wanted = Object.entries(requiredSearchAttributes()).map(([name, type]) => [
      name,
      type.charAt(0) + type.slice(1).toLowerCase(),
    ]);
    expect(created.sort()).toEqual(wanted.sort());
  });
});

describe('serverVersionOf', () => {
  it('reads the temporalio/server tag, quoted or not', () => {
    expect(serverVersionOf('  x:\n    image: temporalio/server:1.29.1\n')).toBe('1.29.1');
    expect(serverVersionOf("    image: 'temporalio/server:1.30.0'\n")).toBe('1.30.0');
  });

  it('refuses none, two different ones, and tags that are not a release', () => {
    expect(() => serverVersionOf('image: temporalio/auto-setup:1.29.1\n')).toThrow(/found none/);
    expect(() =>
      serverVersionOf('image: temporalio/server:1.29.1\nimage: temporalio/server:1.28.0\n'),
    ).toThrow(/exactly one .*1\.29\.1, 1\.28\.0/);
    expect(() => serverVersionOf('image: temporalio/server:latest\n')).toThrow(/x\.y\.z/);
  });
});

describe('the server config', () => {
  const ports = Object.fromEntries(
    PORT_NAMES.map((name, i) => [name, 20_000 + i]),
  ) as unknown as ClusterPorts;
  const config = clusterConfig({
    ip: '127.0.0.1',
    ports,
    shards: 4,
    postgres: postgresTarget('postgres://temporal:s3cret@db.local:6543/admin'),
    databases: { main: 'temporal_x', visibility: 'temporal_visibility_x' },
    dynamicConfigFile: '/abs/dynamicconfig.yaml',
    logLevel: 'warn',
  }) as {
    persistence: {
      numHistoryShards: number;
      visibilityStore: string;
      datastores: Record<string, { sql: Record<string, unknown> }>;
    };
    services: Record<string, { rpc: { grpcPort: number; membershipPort: number; bindOnIP: string } }>;
    dynamicConfigClient: { filepath: string };
  };

  it('puts persistence and SQL visibility on PostgreSQL with the shards asked for', () => {
    expect(config.persistence.numHistoryShards).toBe(4);
    const stores = config.persistence.datastores;
    expect(stores[config.persistence.visibilityStore]?.sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'temporal_visibility_x',
      connectAddr: 'db.local:6543',
      user: 'temporal',
      password: 's3cret',
    });
    expect(Object.values(stores).map((s) => s.sql.databaseName)).toEqual([
      'temporal_x',
      'temporal_visibility_x',
    ]);
  });

  it('runs all four services, each on its own ports, with an absolute dynamic config path', () => {
    expect(Object.keys(config.services).sort()).toEqual(['frontend', 'history', 'matching', 'worker']);
    const used = Object.values(config.services).flatMap((s) => [s.rpc.grpcPort, s.rpc.membershipPort]);
    expect(new Set(used).size).toBe(8);
    expect(path.isAbsolute(config.dynamicConfigClient.filepath)).toBe(true);
  });

  it('allocates distinct free ports that fit the SMALLINT of PostgreSQL’s membership table', async () => {
    const allocated = await allocatePorts('127.0.0.1');
    const values = PORT_NAMES.map((name) => allocated[name]);
    expect(new Set(values).size).toBe(PORT_NAMES.length);
    for (const port of values) expect(port).toBeLessThanOrEqual(32_767);
  });
});

describe('postgresTarget', () => {
  it('defaults user, port and database, decodes the password', () => {
    expect(postgresTarget('postgres://127.0.0.1')).toMatchObject({
      host: '127.0.0.1',
      port: 5432,
      user: 'postgres',
      password: '',
      adminDatabase: 'postgres',
    });
    expect(postgresTarget('postgresql://u:p%40ss@h:1/d')).toMatchObject({
      user: 'u',
      password: 'p@ss',
      port: 1,
    });
  });

  it('names the variable when the URL is bad', () => {
    expect(() => postgresTarget('nonsense', 'TEST_POSTGRES_URL')).toThrow(/^TEST_POSTGRES_URL is not a URL/);
    expect(() => postgresTarget('mysql://h/d', 'TEST_POSTGRES_URL')).toThrow(/^TEST_POSTGRES_URL must be/);
  });
});
