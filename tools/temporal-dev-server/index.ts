/**
 * Runs `temporal server start-dev` as a child process and waits until it really answers. The child
 * never outlives this process (tools/process/supervise.ts). Its command line: args.ts; the
 * readiness check: serving.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { superviseChild } from '../process/supervise';
import { devServerArgs } from './args';
import { waitUntilServing } from './serving';

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

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.logger ?? (() => undefined);
  const ip = opts.ip ?? '127.0.0.1';
  const namespace = opts.namespace ?? 'default';
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  const { args, port, uiPort } = await devServerArgs({
    ip,
    port: opts.port,
    uiPort: opts.uiPort,
    headless: opts.headless ?? false,
    dbFilename: opts.dbFilename,
    namespace,
    logLevel: opts.logLevel,
    dynamicConfig: opts.dynamicConfig,
  });

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
  // SIGTERM on a normal exit: the server gets to close its SQLite file.
  const server = superviseChild(child, { logger: log, graceMs: STOP_GRACE_MS, onParentExit: 'SIGTERM' });
  const stop = () => server.stop();

  try {
    await waitUntilServing(address, namespace, timeoutMs, server.exited);
  } catch (err) {
    const exitedByItself = server.hasExited();
    await stop();
    const spawnError = server.spawnError();
    const reason = spawnError
      ? `cannot run ${opts.cliPath}: ${spawnError.message}`
      : exitedByItself
        ? `exited with code ${child.exitCode ?? child.signalCode}`
        : (err as Error).message;
    const tail = server.tail();
    throw new Error(
      `Temporal dev server (${opts.cliPath}) did not start on ${address}: ${reason}` +
        (tail.length ? `\n--- last output ---\n${tail.slice(-20).join('\n')}` : ''),
    );
  }
  log(`Temporal dev server ready at ${address}${uiUrl ? `, UI ${uiUrl}` : ''} (pid ${child.pid})`);
  return { address, uiUrl, namespace, process: child, stop };
}
