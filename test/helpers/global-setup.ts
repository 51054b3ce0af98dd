/**
 * Jest global setup of the `integration` project: ONE headless Temporal dev server (in memory, free
 * ports) shared by every integration test, its search attributes registered, and the environment
 * the tests read: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEST_POSTGRES_URL (test workers inherit it).
 * With TEMPORAL_TEST_SERVER=cluster (`npm run test:cluster`) it is ONE real Temporal Server cluster
 * on PostgreSQL instead (test/helpers/temporal.ts).
 * A missing Temporal CLI fails the run loudly; tests are never skipped for it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { testPostgresUrl } from '../../tools/postgres/test-database';
import { findProjectRoot } from '../../tools/project';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { bundleLifecycleWorkflows } from '../../src/temporal/worker';
import { startTestTemporal, testServerKind, type TestTemporal } from './temporal';

export const TEST_NAMESPACE = 'default';

/** Where teardown (or a human) finds what setup started. */
export function integrationStateFile(): string {
  return path.join(findProjectRoot(__dirname), '.cache', 'jest-integration', `temporal-${process.pid}.json`);
}

export interface IntegrationState {
  pid: number;
  address: string;
  namespace: string;
  kind: TestTemporal['kind'];
  ownerPid: number;
}

declare global {
  var __ZEGO_TEMPORAL_DEV_SERVER__: TestTemporal | undefined;
}

const log = (line: string) => process.stderr.write(`[integration setup] ${line}\n`);

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  process.env.TEST_POSTGRES_URL = testPostgresUrl();

  const kind = testServerKind();
  let server: TestTemporal;
  try {
    server = await startTestTemporal({ persistent: false, logger: log });
  } catch (err) {
    throw new Error(
      kind === 'cluster'
        ? `Integration tests on a cluster need a Temporal Server: ${(err as Error).message}`
        : `Integration tests need a Temporal CLI: ${(err as Error).message} (run \`npm run temporal:cli\` to see the details)`,
    );
  }
  globalThis.__ZEGO_TEMPORAL_DEV_SERVER__ = server;
  try {
    const connection = await Connection.connect({ address: server.address });
    try {
      await ensureSearchAttributes(connection, TEST_NAMESPACE, log);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await server.destroy();
    throw err;
  }

  // Nothing from a developer's own Temporal settings (temporal.toml profile, API key, TLS, gRPC
  // metadata) may leak into the tests' connections: only the address and namespace below count.
  for (const name of Object.keys(process.env)) {
    if (/^TEMPORAL_(PROFILE|API_KEY|TLS|GRPC_META_|CODEC_)/.test(name)) delete process.env[name];
  }
  process.env.TEMPORAL_CONFIG_FILE = path.join(path.dirname(integrationStateFile()), 'no-temporal.toml');
  process.env.TEMPORAL_ADDRESS = server.address;
  // Bundle the workflow code once for every test worker (webpack takes seconds per bundle): plain,
  // and with the OpenTelemetry workflow interceptors for the tracing tests.
  const bundlePath = path.join(path.dirname(integrationStateFile()), `workflow-bundle-${process.pid}.js`);
  const tracingBundlePath = bundlePath.replace(/\.js$/, '.tracing.js');
  mkdirSync(path.dirname(bundlePath), { recursive: true });
  writeFileSync(bundlePath, await bundleLifecycleWorkflows());
  writeFileSync(tracingBundlePath, await bundleLifecycleWorkflows({ tracing: true }));
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.TEST_WORKFLOW_BUNDLE_TRACING = tracingBundlePath;
  process.env.TEMPORAL_NAMESPACE = TEST_NAMESPACE;

  const state: IntegrationState = {
    pid: server.pid ?? -1,
    address: server.address,
    namespace: TEST_NAMESPACE,
    kind,
    ownerPid: process.pid,
  };
  const stateFile = integrationStateFile();
  mkdirSync(path.dirname(stateFile), { recursive: true });
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
  log(
    `Temporal ${kind} at ${server.address} (pid ${state.pid}) ready in ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
}
