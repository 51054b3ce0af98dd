/**
 * Runs `temporal server start-dev` as a child process and waits until it really answers.
 * The child never outlives this process: an exit hook plus a tiny detached watchdog (which also
 * covers SIGKILL and crashes of this process) take it down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributes } from '../../workflows/definitions';
import { forEachLine } from './child-output';

export interface DevServerOptions {
  /** Path to the temporal CLI (see `locateTemporalCli`). */
  cliPath: string;
  /** Default 127.0.0.1. */
  ip?: string;
  /** gRPC port; a free port when 0 or undefined. */
  port?: number;
  /** Web UI port; a free port when 0 or undefined (ignored when headless). */
  uiPort?: number;
  /** No Web UI. Default false. */
  headless?: boolean;
  /** SQLite file to persist to; in-memory when undefined. */
  dbFilename?: string;
  /** Namespace to create at start ("default" always exists). Default "default". */
  namespace?: string;
  /** Server log level (debug, info, warn, error, never). Default warn. */
  logLevel?: string;
  /** Receives the server's output lines and progress. */
  logger?: (line: string) => void;
  /** Default 90 s. */
  startTimeoutMs?: number;
  /** Dynamic config values (`--dynamic-config-value KEY=JSON`), e.g. `{ 'limit.blobSize.error': 500 }`. */
  dynamicConfig?: Record<string, unknown>;
}

export interface DevServer {
  /** host:port of the frontend gRPC service. */
  address: string;
  uiUrl: string | null;
  namespace: string;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL after a few seconds; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;
const TAIL_LINES = 40;

/** A TCP port that was free a moment ago on `ip`. */
export function freePort(ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: ip, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}

/** SQLite settings for a file-backed dev server (`--sqlite-pragma`). */
export const DEV_SERVER_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.logger ?? (() => undefined);
  const ip = opts.ip ?? '127.0.0.1';
  const namespace = opts.namespace ?? 'default';
  const headless = opts.headless ?? false;
  const port = opts.port || (await freePort(ip));
  let uiPort: number | null = null;
  if (!headless) {
    uiPort = opts.uiPort || (await freePort(ip));
    while (uiPort === port) uiPort = await freePort(ip);
  }
  const timeoutMs = opts.startTimeoutMs ?? 90_000;

  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--log-level',
    opts.logLevel ?? 'warn',
  ];
  // Explicit ports for the HTTP API and metrics: left to the CLI, they can land on a port another
  // server on this machine holds (seen with several dev servers started side by side).
  const taken = new Set([port, uiPort]);
  const extraPort = async () => {
    let p = await freePort(ip);
    while (taken.has(p)) p = await freePort(ip);
    taken.add(p);
    return p;
  };
  args.push('--http-port', String(await extraPort()), '--metrics-port', String(await extraPort()));
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {}))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  if (uiPort !== null) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  if (opts.dbFilename) {
    mkdirSync(path.dirname(path.resolve(opts.dbFilename)), { recursive: true });
    args.push('--db-filename', opts.dbFilename);
    // The SQLite default (rollback journal, a synchronous commit per write) halved what the dev
    // server acknowledges per second (bench/RESULTS.md §7). WAL with synchronous=NORMAL survives a
    // killed process; only a power cut can lose the last commits, which a laptop can afford.
    for (const pragma of DEV_SERVER_SQLITE_PRAGMAS) args.push('--sqlite-pragma', pragma);
  }
  // Also registered (idempotently) by the worker; here so a fresh server has them from the start.
  for (const key of Object.values(searchAttributes)) args.push('--search-attribute', `${key.name}=Keyword`);
  // No phoning home for a version check (offline machines just log warnings about it).
  args.push('--dynamic-config-value', 'frontend.enableServerVersionCheck=false');

  const hostForClients =
    ip === '0.0.0.0' ? '127.0.0.1' : ip === '::' ? '[::1]' : ip.includes(':') ? `[${ip}]` : ip;
  const address = `${hostForClients}:${port}`;
  const uiHost = ip === '0.0.0.0' || ip === '::' ? 'localhost' : hostForClients;
  const uiUrl = uiPort !== null ? `http://${uiHost}:${uiPort}` : null;

  log(`starting ${opts.cliPath} ${args.join(' ')}`);
  // The Temporal server reads OTEL_* itself (and refuses OTEL_TRACES_EXPORTER=console): this
  // service's tracing settings are not for it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')));
  const child = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, env });
  const tail: string[] = [];
  let quiet = false;
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    // A stopping server complains about its own connections going away: not worth anyone's time.
    if (!quiet) log(line);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);

  let exited = child.exitCode !== null || child.signalCode !== null;
  let spawnError: Error | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited = true;
      resolve();
    });
  });

  // The child must die with us: on a normal exit through this hook, otherwise through the watchdog.
  const onParentExit = () => {
    if (!exited) child.kill('SIGTERM');
  };
  process.on('exit', onParentExit);
  const watchdog = child.pid !== undefined ? startWatchdog(child.pid) : null;

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      quiet = true;
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, STOP_GRACE_MS);
        await exitPromise;
        clearTimeout(timer);
      }
      process.removeListener('exit', onParentExit);
      if (watchdog && watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
    })();
    return stopping;
  };

  try {
    await waitUntilServing(address, namespace, timeoutMs, exitPromise);
  } catch (err) {
    const exitedByItself = exited;
    await stop();
    const reason = spawnError
      ? `cannot run ${opts.cliPath}: ${(spawnError as Error).message}`
      : exitedByItself
        ? `exited with code ${child.exitCode ?? child.signalCode}`
        : (err as Error).message;
    throw new Error(
      `Temporal dev server (${opts.cliPath}) did not start on ${address}: ${reason}` +
        (tail.length ? `\n--- last output ---\n${tail.slice(-20).join('\n')}` : ''),
    );
  }
  log(`Temporal dev server ready at ${address}${uiUrl ? `, UI ${uiUrl}` : ''} (pid ${child.pid})`);
  return { address, uiUrl, namespace, process: child, stop };
}

/**
 * Polls with fresh connections (a reused gRPC channel backs off for seconds) until the namespace
 * answers; gives up at once when the process exits.
 */
export async function waitUntilServing(
  address: string,
  namespace: string,
  timeoutMs: number,
  exit: Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  let hasExited = false;
  const exited = exit.then(() => {
    hasExited = true;
    return 'exited' as const;
  });
  const attempt = async (budget: number): Promise<'ok'> => {
    let connection: Connection | null = null;
    try {
      connection = await Connection.connect({ address, connectTimeout: budget });
      const conn = connection;
      await conn.withDeadline(Date.now() + budget, async () => {
        await conn.workflowService.getSystemInfo({});
        await conn.workflowService.describeNamespace({ namespace });
      });
      return 'ok';
    } finally {
      await connection?.close().catch(() => undefined);
    }
  };
  while (Date.now() < deadline && !hasExited) {
    const budget = Math.max(500, Math.min(3_000, deadline - Date.now()));
    const outcome = await Promise.race([attempt(budget), exited]).catch((err: unknown) => {
      lastError = ((err as Error)?.message ?? String(err)).split('\n')[0] ?? '';
      return 'failed' as const;
    });
    if (outcome === 'ok') return;
    if (outcome === 'exited') break;
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 200)), exited]);
  }
  if (hasExited) throw new Error('process exited');
  throw new Error(`not answering after ${Math.round(timeoutMs / 1000)}s (last error: ${lastError})`);
}

/**
 * A detached Node process that SIGTERMs (then SIGKILLs) the server once this process is gone,
 * however it went (including SIGKILL), and exits by itself when the server is gone.
 */
export function startWatchdog(childPid: number): ChildProcess | null {
  const script = `
const [parent, child] = process.argv.slice(1).map(Number);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const timer = setInterval(() => {
  if (!alive(child)) process.exit(0);
  if (process.ppid !== parent || !alive(parent)) {
    clearInterval(timer);
    try { process.kill(child, 'SIGTERM'); } catch {}
    setTimeout(() => { try { process.kill(child, 'SIGKILL'); } catch {} process.exit(0); }, ${STOP_GRACE_MS});
  }
}, 500);`;
  try {
    const watchdog = spawn(process.execPath, ['-e', script, String(process.pid), String(childPid)], {
      detached: true,
      stdio: 'ignore',
      windowsHide: true,
    });
    watchdog.on('error', () => undefined);
    watchdog.unref();
    return watchdog;
  } catch {
    return null;
  }
}
