/**
 * `npm run worker`'s entry point as a child process of the test (so it can be SIGKILLed like a
 * crashed machine), with a test service's environment and the global setup's workflow bundle. The
 * spawning itself is the chaos test's and the benchmarks' (tools/process/service-children.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnWorker as spawnServiceWorker, type Child } from '../../tools/process/service-children';

export type { Child } from '../../tools/process/service-children';

let logDir: string | undefined;

/** Starts a worker; resolves once it logs "worker started" (its log is in the error otherwise). */
export function spawnWorker(env: Record<string, string | undefined>): Promise<Child> {
  logDir ??= mkdtempSync(path.join(tmpdir(), 'zego-test-worker-'));
  return spawnServiceWorker(
    { ...process.env, ...env, LOG_LEVEL: 'info', WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE },
    path.join(logDir, 'worker.log'),
    { readyTimeoutMs: 90_000 },
  );
}

/** SIGKILL: no shutdown, no goodbye to Temporal or the database. */
export function killWorker(child: Child): Promise<void> {
  return child.kill('SIGKILL');
}
