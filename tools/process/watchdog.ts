import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const SCRIPT = path.join(__dirname, 'watchdog-child.js');

/**
 * A detached Node process that SIGTERMs (then, `graceMs` later, SIGKILLs) `childPid` once this
 * process is gone, however it went (including SIGKILL), and exits by itself when the child is gone.
 */
export function startWatchdog(childPid: number, graceMs: number): ChildProcess | null {
  try {
    const watchdog = spawn(
      process.execPath,
      [SCRIPT, String(process.pid), String(childPid), String(graceMs)],
      {
        detached: true,
        stdio: 'ignore',
        windowsHide: true,
      },
    );
    watchdog.on('error', () => undefined);
    watchdog.unref();
    return watchdog;
  } catch {
    return null;
  }
}
