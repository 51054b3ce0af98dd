/**
 * The service's own entry points (src/main/worker.ts, src/main/server.ts, src/main/dev.ts) as child
 * processes, for the chaos test and the benchmarks: started with `node --import tsx` (or plain `node`
 * for a compiled `.js` entry, as the Dockerfile runs them), their output
 * appended to a log file (never piped through the parent, so a chatty child costs the parent
 * nothing), ready once a line of that log matches, stopped or SIGKILLed by pid (their memory and
 * CPU time: proc-stats.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { findProjectRoot } from '../project';
import { pollUntil } from './poll';

export const ROOT = findProjectRoot(__dirname);

export interface SpawnOptions {
  /**
   * Entry point relative to the repository root, e.g. `src/main/worker.ts` (run with tsx), or a
   * compiled `.js` one (run with plain node: no tsx loader thread or transpile cache in its memory).
   */
  entry: string;
  env: Record<string, string | undefined>;
  /** Where stdout and stderr go (appended). */
  logFile: string;
  /** Ready once the log (from this start on) contains this text, or once this check resolves true. */
  readyWhen: string | RegExp | (() => Promise<boolean>);
  /** Default 120 s. */
  readyTimeoutMs?: number;
  /** Extra node flags before the entry (e.g. another `--import`). */
  nodeArgs?: string[];
  /** Label for messages. */
  name?: string;
  /** Checkout to run the entry point from (default: this one), e.g. a patched copy. */
  root?: string;
}

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  logFile: string;
  /** The log written since this start. */
  output(): string;
  /** True while the process has not exited. */
  alive(): boolean;
  /** Sends `signal` (default SIGKILL) and resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once exited. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<void>;
}

/** Starts `entry` (tsx for `.ts`) and waits until it is ready; throws with its log tail if it exits or times out. */
export async function spawnChild(opts: SpawnOptions): Promise<Child> {
  const name = opts.name ?? path.basename(opts.entry, path.extname(opts.entry));
  const offset = existsSync(opts.logFile) ? statSync(opts.logFile).size : 0;
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      [
        ...(opts.entry.endsWith('.js') ? [] : ['--import', 'tsx']),
        ...(opts.nodeArgs ?? []),
        path.join(opts.root ?? ROOT, opts.entry),
      ],
      { cwd: opts.root ?? ROOT, env: cleanEnv(opts.env), stdio: ['ignore', fd, fd] },
    );
  } finally {
    closeSync(fd);
  }
  let hasExited = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      hasExited = true;
      resolve();
    });
    child.once('error', () => {
      hasExited = true;
      resolve();
    });
  });
  // Never outlive the parent (a crashed bench or test must not leave children behind).
  const onExit = () => {
    if (!hasExited) child.kill('SIGKILL');
  };
  process.on('exit', onExit);
  void exited.then(() => process.removeListener('exit', onExit));

  const output = () => {
    try {
      return readFileSync(opts.logFile).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!hasExited) child.kill(signal);
    await exited;
  };
  const handle: Child = {
    name,
    process: child,
    pid: child.pid ?? -1,
    logFile: opts.logFile,
    output,
    alive: () => !hasExited,
    kill,
    async stop(graceMs = 10_000) {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    exited,
  };

  const readyWhen = opts.readyWhen;
  const isReady = async () =>
    typeof readyWhen === 'function'
      ? await readyWhen().catch(() => false)
      : typeof readyWhen === 'string'
        ? output().includes(readyWhen)
        : readyWhen.test(output());
  const ready = await pollUntil(isReady, Boolean, {
    timeoutMs: opts.readyTimeoutMs ?? 120_000,
    stopWhen: () => hasExited,
  });
  if (!ready.done) {
    await kill();
    const tail = output().split('\n').slice(-30).join('\n');
    throw new Error(
      `${name} ${hasExited ? `exited (code ${child.exitCode ?? child.signalCode})` : 'did not get ready in time'}:\n${tail}`,
    );
  }
  return handle;
}

/**
 * The environment of a service child process (worker or server) against one Temporal dev server:
 * only what it needs, with a temporal.toml that does not exist so no developer profile leaks in.
 */
export function serviceEnv(opts: {
  temporalAddress: string;
  /** The run's directory: the missing temporal.toml is named inside it. */
  dir: string;
  taskQueue: string;
  dataDir: string;
  workflowBundlePath: string;
  databaseUrl?: string;
}): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_CONFIG_FILE: path.join(opts.dir, 'no-temporal.toml'),
    TEMPORAL_TASK_QUEUE: opts.taskQueue,
    DATA_DIR: opts.dataDir,
    WORKFLOW_BUNDLE_PATH: opts.workflowBundlePath,
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
  };
}

/** `npm run worker` (src/main/worker.ts); ready when it logs "worker started". */
export function spawnWorker(
  env: Record<string, string | undefined>,
  logFile: string,
  extra: Partial<SpawnOptions> = {},
): Promise<Child> {
  return spawnChild({
    entry: 'src/main/worker.ts',
    env: { ...env, LOG_LEVEL: env.LOG_LEVEL === 'silent' || !env.LOG_LEVEL ? 'info' : env.LOG_LEVEL },
    logFile,
    readyWhen: 'worker started',
    name: 'worker',
    ...extra,
  });
}

/** `npm run server` (src/main/server.ts) on env.PORT; ready when GET /healthz answers 200. */
export function spawnServer(
  env: Record<string, string | undefined>,
  logFile: string,
  extra: Partial<SpawnOptions> = {},
): Promise<Child> {
  const host = env.HOST && env.HOST !== '0.0.0.0' ? env.HOST : '127.0.0.1';
  return spawnChild({
    entry: 'src/main/server.ts',
    env,
    logFile,
    readyWhen: async () => (await fetch(`http://${host}:${env.PORT}/healthz`)).status === 200,
    name: 'server',
    ...extra,
  });
}

/** Drops undefined values, and the jest/tsx variables that make no sense in a child. */
function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== 'NODE_OPTIONS') out[k] = v;
  return out;
}
