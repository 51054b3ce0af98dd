/**
 * The production build end to end, with the very commands the containers run (Dockerfile CMDs):
 * `node dist/src/main/server.js` and `node dist/src/main/worker.js`, from `npm run build` output,
 * against the jest global setup's Temporal dev server and a fresh PostgreSQL database. One signed
 * start + stop goes through to a finalized bill; then SIGTERM must stop both cleanly (exit 0).
 */
import { pollUntil } from '../../tools/process/poll';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../tools/process/ports';
import { createTestDatabase, type TestDatabase } from '../../tools/postgres/test-database';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
const BUNDLE = path.join(DIST, 'workflow-bundle.js');
const TRACING_BUNDLE = path.join(DIST, 'workflow-bundle.tracing.js');
const SERVER_JS = path.join('dist', 'src', 'main', 'server.js');
const WORKER_JS = path.join('dist', 'src', 'main', 'worker.js');
/** What the build reads: when any of it is newer than the bundle, dist/ is rebuilt. */
const BUILD_INPUTS = [
  'src',
  'workflows',
  'activities',
  'scripts/build-workflow-bundle.ts',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'package-lock.json',
];
const SECRET = `prod-build-${randomUUID()}`;
const ADMIN_TOKEN = `prod-admin-${randomUUID()}`;
/** docker stop's default grace period; compose gives the worker 45 s, the server 15 s. */
const SERVER_GRACE_MS = 10_000;
const WORKER_GRACE_MS = 35_000;

function newestMtime(target: string): number {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target)) newest = Math.max(newest, newestMtime(path.join(target, entry)));
  return newest;
}

function distIsFresh(): boolean {
  if (
    ![BUNDLE, TRACING_BUNDLE, path.join(ROOT, SERVER_JS), path.join(ROOT, WORKER_JS)].every((f) =>
      existsSync(f),
    )
  ) {
    return false;
  }
  const built = statSync(BUNDLE).mtimeMs;
  return BUILD_INPUTS.every((input) => newestMtime(path.join(ROOT, input)) <= built);
}

/** `npm run build`, unless dist/ is already newer than everything it is built from. */
function ensureBuild(): void {
  if (distIsFresh()) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) {
    throw new Error(
      `npm run build failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  for (const bundle of [BUNDLE, TRACING_BUNDLE]) {
    if (!existsSync(bundle)) throw new Error(`npm run build did not write ${bundle}`);
  }
}

interface Proc {
  name: string;
  child: ChildProcess;
  /** Every stdout/stderr line so far. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first JSON log line whose `msg` is `msg`. */
  waitForLog(msg: string, timeoutMs: number): Promise<Record<string, unknown>>;
}

function start(name: string, script: string, env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const listeners: Array<(line: string) => void> = [];
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        for (const listener of listeners) listener(line);
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const parse = (line: string): Record<string, unknown> | null => {
    try {
      const value: unknown = JSON.parse(line);
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  return {
    name,
    child,
    lines,
    exited,
    waitForLog(msg, timeoutMs) {
      return new Promise((resolve, reject) => {
        const seen = lines.map(parse).find((entry) => entry?.msg === msg);
        if (seen) return resolve(seen);
        const timer = setTimeout(
          () => reject(new Error(`${name}: no "${msg}" log line in ${timeoutMs} ms:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        listeners.push((line) => {
          const entry = parse(line);
          if (entry?.msg === msg) {
            clearTimeout(timer);
            resolve(entry);
          }
        });
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code ?? signal}) before "${msg}":\n${lines.join('\n')}`));
        });
      });
    },
  };
}

async function stop(
  proc: Proc,
  graceMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  proc.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`${proc.name} still running ${graceMs} ms after SIGTERM:\n${proc.lines.join('\n')}`),
        ),
      graceMs,
    );
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  let lastError: unknown;
  const attempt = () =>
    probe().catch((err: unknown) => {
      lastError = err;
      return undefined;
    });
  const { value } = await pollUntil(attempt, (v) => v !== undefined, { timeoutMs, everyMs: 200 });
  if (value !== undefined) return value;
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

describe('production build (node dist/…, as in the Docker image)', () => {
  let db: TestDatabase;
  let dataDir: string;
  let baseUrl: string;
  let server: Proc | undefined;
  let worker: Proc | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ensureBuild();
    db = await createTestDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'zego-prod-build-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    // As in the container: the compiled entry points, no tsx, production mode, only what they need.
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE,
      // Set by the global setup to a file that does not exist: no developer temporal.toml leaks in.
      ...(process.env.TEMPORAL_CONFIG_FILE ? { TEMPORAL_CONFIG_FILE: process.env.TEMPORAL_CONFIG_FILE } : {}),
      TEMPORAL_TASK_QUEUE: `prod-build-${randomUUID()}`,
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      ZEGO_CALLBACK_SECRET: SECRET,
      ADMIN_TOKEN,
      PORT: String(port),
      HOST: '127.0.0.1',
      LIFECYCLE_LINGER: '3s',
      LOG_LEVEL: 'info',
    };
    server = start('server', SERVER_JS, env);
    worker = start('worker', WORKER_JS, env);
  }, 360_000);

  afterAll(async () => {
    for (const proc of [server, worker]) {
      if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
    }
    await db?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves, runs a lifecycle to a finalized bill, and stops on SIGTERM with exit 0', async () => {
    const srv = server!;
    const wrk = worker!;

    // The worker loads the bundle built by `npm run build`; it does not bundle at start.
    const started = await wrk.waitForLog('worker started', 60_000);
    expect(started.workflowBundle).toBe(BUNDLE);
    expect(wrk.lines.some((line) => /Workflow bundle created|webpack/i.test(line))).toBe(false);

    await srv.waitForLog('server listening', 30_000);
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    await until('/readyz 200', 30_000, async () =>
      (await fetch(`${baseUrl}/readyz`)).status === 200 ? true : undefined,
    );

    const appId = String(100000 + Math.floor(Math.random() * 899999));
    const taskId = `prod-build-${randomUUID()}`;
    const now = Math.floor(Date.now() / 1000);
    const post = async (body: Record<string, unknown>) => {
      const { body: payload, contentType } = encodeCallback(body, 'json');
      const res = await fetch(`${baseUrl}/zego/callback`, {
        method: 'POST',
        body: payload,
        headers: { 'content-type': contentType },
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const startReply = await post(
      transcodeStart({ Appid: appId, TaskId: taskId, Sequence: 0 }, { secret: SECRET, timestamp: now - 120 }),
    );
    expect(startReply).toMatchObject({ status: 200, json: { ok: true } });
    const stopReply = await post(
      transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1 }, { secret: SECRET, timestamp: now }),
    );
    expect(stopReply).toMatchObject({ status: 200, json: { ok: true } });

    const doc = await until('billing.status finalized', 60_000, async () => {
      const res = await fetch(`${baseUrl}/apps/${appId}/tasks/${encodeURIComponent(taskId)}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      if (res.status !== 200) return undefined;
      const body = (await res.json()) as { billing?: { status?: string } };
      return body.billing?.status === 'finalized' ? body : undefined;
    });
    expect(doc).toMatchObject({
      appId,
      taskId,
      status: 'stopped',
      durationSeconds: 120,
      billing: { status: 'finalized', billableMinutes: 2, lines: [{ tier: 'hd', minutes: 2 }] },
    });

    const [serverExit, workerExit] = await Promise.all([
      stop(srv, SERVER_GRACE_MS),
      stop(wrk, WORKER_GRACE_MS),
    ]);
    expect(serverExit).toEqual({ code: 0, signal: null });
    expect(workerExit).toEqual({ code: 0, signal: null });
    expect(wrk.lines.some((line) => line.includes('"worker stopped"'))).toBe(true);
  });

  it('gives the OpenTelemetry workflow interceptors to a tracing worker only', async () => {
    // In every bundle they made a worker 6× larger per cached lifecycle and crashed it past ~1,700
    // (bench/RESULTS.md §5): the plain bundle must not carry them.
    const marker = 'OpenTelemetryInboundInterceptor';
    expect(readFileSync(BUNDLE, 'utf8').includes(marker)).toBe(false);
    expect(readFileSync(TRACING_BUNDLE, 'utf8').includes(marker)).toBe(true);

    const tracingWorker = start('tracing worker', WORKER_JS, {
      ...env,
      TEMPORAL_TASK_QUEUE: `prod-build-tracing-${randomUUID()}`,
      OTEL_TRACES_EXPORTER: 'console',
    });
    try {
      const started = await tracingWorker.waitForLog('worker started', 60_000);
      expect(started).toMatchObject({ workflowBundle: TRACING_BUNDLE, tracing: 'zego-transcode-worker' });
      expect(await stop(tracingWorker, WORKER_GRACE_MS)).toEqual({ code: 0, signal: null });
    } finally {
      if (tracingWorker.child.exitCode === null && tracingWorker.child.signalCode === null) {
        tracingWorker.child.kill('SIGKILL');
        await tracingWorker.exited;
      }
    }
  });
});
