/**
 * The Temporal plumbing itself: the shared dev server from global setup, search-attribute
 * registration (repeated and concurrent), a persisted dev server surviving a restart, the CLI
 * locator's TEMPORAL_CLI_PATH handling, and connection settings read through envconfig.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { findProjectRoot } from '../../tools/project';
import { locateTemporalCli } from '../../tools/temporal-cli';
import { connectClient, connectLazily, temporalConnectConfig } from '../../src/temporal/connection';
import { startDevServer } from '../../tools/temporal-dev-server';
import { ensureSearchAttributes, requiredSearchAttributes } from '../../src/temporal/search-attributes';

const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

async function customAttributes(connection: Connection, namespace: string): Promise<Record<string, number>> {
  const res = await connection.operatorService.listSearchAttributes({ namespace });
  return Object.fromEntries(Object.entries(res.customAttributes ?? {}).map(([k, v]) => [k, Number(v)]));
}

async function registerNamespace(connection: Connection, namespace: string): Promise<void> {
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  // The frontend learns of new namespaces through its cache: wait until it answers for it.
  for (let i = 0; ; i++) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      if (i > 100) throw err;
      await sleep(100);
    }
  }
}

describe('shared dev server (global setup)', () => {
  let connection: Connection;

  beforeAll(async () => {
    connection = await connectClient(temporalConnectConfig());
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('is reachable at TEMPORAL_ADDRESS in TEMPORAL_NAMESPACE', async () => {
    expect(process.env.TEMPORAL_ADDRESS).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(process.env.TEST_POSTGRES_URL).toBeTruthy();
    const cfg = temporalConnectConfig();
    expect(cfg.connectionOptions.address).toBe(process.env.TEMPORAL_ADDRESS);
    const info = await connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
    const ns = await connection.workflowService.describeNamespace({ namespace: cfg.namespace });
    expect(ns.namespaceInfo?.name).toBe(process.env.TEMPORAL_NAMESPACE);
  });

  it('has the lifecycle search attributes as Keyword', async () => {
    const result = await ensureSearchAttributes(connection, process.env.TEMPORAL_NAMESPACE!);
    expect(result.skipped).toBe(false);
    expect(result.created).toEqual([]);
    const present = await customAttributes(connection, process.env.TEMPORAL_NAMESPACE!);
    for (const name of Object.keys(requiredSearchAttributes())) expect(present[name]).toBe(KEYWORD);
  });

  it('registers them in a fresh namespace, concurrently and repeatedly', async () => {
    const namespace = `sa-${randomUUID()}`;
    await registerNamespace(connection, namespace);
    const names = Object.keys(requiredSearchAttributes()).sort();
    expect(Object.keys(await customAttributes(connection, namespace))).toEqual([]);

    const results = await Promise.all(
      Array.from({ length: 5 }, () => ensureSearchAttributes(connection, namespace)),
    );
    for (const r of results) {
      expect(r.skipped).toBe(false);
      expect([...r.created, ...r.existing].sort()).toEqual(names);
    }
    expect(new Set(results.flatMap((r) => r.created)).size).toBeGreaterThan(0);

    const again = await ensureSearchAttributes(connection, namespace);
    expect(again.created).toEqual([]);
    expect(again.existing.sort()).toEqual(names);
    const present = await customAttributes(connection, namespace);
    for (const name of names) expect(present[name]).toBe(KEYWORD);
  });
});

describe('startDevServer', () => {
  let cliPath: string;
  let dir: string;

  beforeAll(async () => {
    cliPath = await locateTemporalCli();
    dir = await mkdtemp(path.join(tmpdir(), 'temporal-infra-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('persists to dbFilename across a restart', async () => {
    const dbFilename = path.join(dir, 'temporal.sqlite');
    const namespace = `persisted-${randomUUID()}`;

    const first = await startDevServer({ cliPath, headless: true, dbFilename });
    try {
      const connection = await connectClient({
        connectionOptions: { address: first.address },
        namespace: 'default',
      });
      await registerNamespace(connection, namespace);
      await connection.close();
    } finally {
      await first.stop();
    }
    expect(first.process.exitCode !== null || first.process.signalCode !== null).toBe(true);

    const second = await startDevServer({ cliPath, headless: true, dbFilename });
    try {
      const connection = await connectClient({
        connectionOptions: { address: second.address },
        namespace: 'default',
      });
      const ns = await connection.workflowService.describeNamespace({ namespace });
      expect(ns.namespaceInfo?.name).toBe(namespace);
      await connection.close();
    } finally {
      await second.stop();
    }
  });

  it('reports a server that does not come up, with its output', async () => {
    await expect(
      startDevServer({ cliPath: path.join(dir, 'no-such-temporal'), headless: true, startTimeoutMs: 5_000 }),
    ).rejects.toThrow(/did not start/);
  });
});

describe('locateTemporalCli', () => {
  it('returns TEMPORAL_CLI_PATH when it points at a working CLI', async () => {
    const found = await locateTemporalCli();
    await expect(locateTemporalCli({ env: { ...process.env, TEMPORAL_CLI_PATH: found } })).resolves.toBe(
      found,
    );
  });

  it('fails naming TEMPORAL_CLI_PATH when it is not an executable', async () => {
    await expect(
      locateTemporalCli({ env: { ...process.env, TEMPORAL_CLI_PATH: '/nonexistent/temporal' } }),
    ).rejects.toThrow(/TEMPORAL_CLI_PATH=\/nonexistent\/temporal/);
  });

  it('as a script: one line on stderr and exit 1 for a bad TEMPORAL_CLI_PATH', async () => {
    const root = findProjectRoot(__dirname);
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'tools/temporal-cli/cli.ts'],
        { cwd: root, env: { ...process.env, TEMPORAL_CLI_PATH: '/nonexistent/temporal' } },
        (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/TEMPORAL_CLI_PATH/);
  });
});

describe('temporalConnectConfig', () => {
  let dir: string;
  let noFile: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'temporal-envconfig-'));
    // Keep any temporal.toml of the developer's out of these checks.
    noFile = { TEMPORAL_CONFIG_FILE: path.join(dir, 'absent.toml') };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults to localhost:7233 and namespace default', () => {
    expect(temporalConnectConfig(noFile)).toEqual({
      connectionOptions: { address: 'localhost:7233' },
      namespace: 'default',
    });
  });

  it('reads the TEMPORAL_* variables and the selected temporal.toml profile', async () => {
    const cfg = temporalConnectConfig({
      ...noFile,
      TEMPORAL_ADDRESS: 'my-ns.abcde.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.abcde',
      TEMPORAL_API_KEY: 'secret',
    });
    expect(cfg.namespace).toBe('my-ns.abcde');
    expect(cfg.connectionOptions).toMatchObject({
      address: 'my-ns.abcde.tmprl.cloud:7233',
      apiKey: 'secret',
    });
    expect(cfg.connectionOptions.tls).toBeTruthy();

    const file = path.join(dir, 'temporal.toml');
    await writeFile(file, '[profile.staging]\naddress = "staging.example:7233"\nnamespace = "stage"\n');
    expect(temporalConnectConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' })).toEqual({
      connectionOptions: { address: 'staging.example:7233' },
      namespace: 'stage',
    });
    // Variables override the profile; an address without port gets 7233.
    expect(
      temporalConnectConfig({
        TEMPORAL_CONFIG_FILE: file,
        TEMPORAL_PROFILE: 'staging',
        TEMPORAL_ADDRESS: 'other',
      }).connectionOptions.address,
    ).toBe('other:7233');
  });

  it('names the variable at fault', () => {
    expect(() => temporalConnectConfig({ ...noFile, TEMPORAL_ADDRESS: 'http://localhost:7233' })).toThrow(
      /^TEMPORAL_ADDRESS=http:\/\/localhost:7233/,
    );
    expect(() => temporalConnectConfig({ ...noFile, TEMPORAL_PROFILE: 'nope' })).toThrow(
      /^TEMPORAL_PROFILE=nope/,
    );
    expect(() => temporalConnectConfig({ ...noFile, TEMPORAL_TLS: 'maybe' })).toThrow(/^TEMPORAL_TLS=maybe/);
    expect(() =>
      temporalConnectConfig({
        ...noFile,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'missing-ca.pem'),
      }),
    ).toThrow(/^TEMPORAL_TLS_SERVER_CA_CERT_PATH=/);
  });

  it('connectLazily does not fail while Temporal is down; connectClient does, naming the address', async () => {
    const down = { connectionOptions: { address: '127.0.0.1:1' }, namespace: 'default' };
    const lazy = connectLazily(down);
    await expect(
      lazy.withDeadline(Date.now() + 1_000, () => lazy.workflowService.getSystemInfo({})),
    ).rejects.toThrow();
    await lazy.close();
    await expect(connectClient(down, { connectTimeoutMs: 1_000 })).rejects.toThrow(/127\.0\.0\.1:1/);
  });
});
