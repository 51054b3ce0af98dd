/** Jest global teardown of the `integration` project: stops the Temporal server global setup started. */
import { readFileSync, rmSync } from 'node:fs';
import { integrationStateFile, type IntegrationState } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__ZEGO_TEMPORAL_DEV_SERVER__;
  globalThis.__ZEGO_TEMPORAL_DEV_SERVER__ = undefined;
  const stateFile = integrationStateFile();
  if (server) {
    await server.destroy();
  } else {
    // Not the process that set up (should not happen with Jest): fall back to the recorded pid.
    try {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as IntegrationState;
      if (state.pid > 0) process.kill(state.pid, 'SIGTERM');
    } catch {
      // nothing recorded or already gone
    }
  }
  rmSync(stateFile, { force: true });
  for (const bundle of [process.env.TEST_WORKFLOW_BUNDLE, process.env.TEST_WORKFLOW_BUNDLE_TRACING]) {
    if (bundle) rmSync(bundle, { force: true });
  }
}
