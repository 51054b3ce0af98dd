/**
 * A long-running child (a Temporal server) that never outlives this process: an exit hook, plus a
 * detached watchdog for SIGKILL and crashes of this process. Its output lines are forwarded and the
 * last ones kept for error messages; stop() is SIGTERM, then SIGKILL after a grace period.
 */
import type { ChildProcess } from 'node:child_process';
import { forEachLine } from './child-output';
import { startWatchdog } from './watchdog';

export interface SupervisedChild {
  process: ChildProcess;
  /** Resolves once the process has exited (also when it could not be spawned). */
  exited: Promise<void>;
  hasExited(): boolean;
  /** Why it could not be spawned, if so. */
  spawnError(): Error | null;
  /** The last lines it printed (for error messages). */
  tail(): string[];
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (an outage, not a shutdown); resolves once it has exited. */
  kill(): Promise<void>;
}

export interface SuperviseOptions {
  /** Receives its output lines (none once it is being stopped). */
  logger?: (line: string) => void;
  /** Default 40. */
  tailLines?: number;
  /** stop()'s default grace. */
  graceMs: number;
  /** How long the watchdog waits between its SIGTERM and SIGKILL. Default `graceMs`. */
  watchdogGraceMs?: number;
  /** Sent by the exit hook when this process exits normally. */
  onParentExit: 'SIGTERM' | 'SIGKILL';
  /** A spawn failure recorded as an output line (for the tail), when given. */
  spawnErrorLine?: (err: Error) => string;
}

export function superviseChild(child: ChildProcess, opts: SuperviseOptions): SupervisedChild {
  const log = opts.logger ?? (() => undefined);
  const tailLines = opts.tailLines ?? 40;
  const tail: string[] = [];
  let quiet = false;
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > tailLines) tail.shift();
    // A stopping server complains about its own connections going away: not worth anyone's time.
    if (!quiet) log(line);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);

  let exited = child.exitCode !== null || child.signalCode !== null;
  let spawnError: Error | null = null;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      if (opts.spawnErrorLine) onLine(opts.spawnErrorLine(err));
      exited = true;
      resolve();
    });
  });

  const onParentExit = () => {
    if (!exited) child.kill(opts.onParentExit);
  };
  process.on('exit', onParentExit);
  const watchdog =
    child.pid !== undefined ? startWatchdog(child.pid, opts.watchdogGraceMs ?? opts.graceMs) : null;
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
    spawnError: () => spawnError,
    tail: () => [...tail],
    stop(graceMs = opts.graceMs) {
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
