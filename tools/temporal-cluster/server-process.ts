/**
 * Runs the Temporal Server binary on a written config as a child process. Like the dev-server
 * launcher, the child never outlives this process (tools/process/supervise.ts), and stop() is
 * SIGTERM, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';
import { superviseChild, type SupervisedChild } from '../process/supervise';
import type { Logger } from './binaries';

export type ServerProcess = Omit<SupervisedChild, 'spawnError'>;

const STOP_GRACE_MS = 10_000;
/** The dev server's grace, which the watchdog has always given the cluster too. */
const WATCHDOG_GRACE_MS = 5_000;

export function spawnServer(opts: { serverPath: string; rootDir: string; logger?: Logger }): ServerProcess {
  const log = opts.logger ?? (() => undefined);
  const args = [
    '--root',
    opts.rootDir,
    '--config',
    'config',
    '--env',
    'development',
    '--allow-no-auth',
    'start',
  ];
  // Flags decide root, config and zone, not a TEMPORAL_* variable of the caller's; the server reads
  // OTEL_* itself, and this service's tracing settings are not for it.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('OTEL_') && !name.startsWith('TEMPORAL_'),
    ),
  );
  log(`starting ${opts.serverPath} ${args.join(' ')}`);
  const child = spawn(opts.serverPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, windowsHide: true });
  return superviseChild(child, {
    logger: log,
    graceMs: STOP_GRACE_MS,
    watchdogGraceMs: WATCHDOG_GRACE_MS,
    onParentExit: 'SIGKILL',
    spawnErrorLine: (err) => `cannot run ${opts.serverPath}: ${err.message}`,
  });
}
