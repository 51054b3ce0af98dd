/**
 * Runs the Temporal Server binary on a written config as a child process. Like the dev-server
 * launcher, the child never outlives this process (an exit hook, plus a detached watchdog for
 * SIGKILL and crashes), and stop() is SIGTERM, then SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { forEachLine } from '../../src/temporal/child-output';
import { startWatchdog } from '../../src/temporal/dev-server';
import type { Logger } from './binaries';

export interface ServerProcess {
  process: ChildProcess;
  /** Resolves once the process has exited (also when it could not be spawned). */
  exited: Promise<void>;
  hasExited(): boolean;
  /** The last lines it printed (for error messages). */
  tail(): string[];
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (an outage, not a shutdown); resolves once it has exited. */
  kill(): Promise<void>;
}

const TAIL_LINES = 40;
const STOP_GRACE_MS = 10_000;

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
  const tail: string[] = [];
  let quiet = false;
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    // A stopping server complains about its own connections going away.
    if (!quiet) log(line);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);

  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      onLine(`cannot run ${opts.serverPath}: ${err.message}`);
      exited = true;
      resolve();
    });
  });
  const onParentExit = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', onParentExit);
  const watchdog = child.pid !== undefined ? startWatchdog(child.pid) : null;
  void exitedPromise.then(() => {
    process.removeListener('exit', onParentExit);
    if (watchdog && watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
  });

  const signal = (sig: NodeJS.Signals) => {
    if (!exited) child.kill(sig);
  };
  let stopping: Promise<void> | null = null;
  return {
    process: child,
    exited: exitedPromise,
    hasExited: () => exited,
    tail: () => [...tail],
    stop(graceMs = STOP_GRACE_MS) {
      stopping ??= (async () => {
        quiet = true;
        signal('SIGTERM');
        const timer = setTimeout(() => signal('SIGKILL'), graceMs);
        await exitedPromise;
        clearTimeout(timer);
      })();
      return stopping;
    },
    async kill() {
      quiet = true;
      signal('SIGKILL');
      await exitedPromise;
    },
  };
}
