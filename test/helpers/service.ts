/**
 * The whole service (worker + HTTP server) in the test process, against the real Temporal dev
 * server of the jest global setup and a real PostgreSQL database (fresh per service) or the
 * embedded PGlite. Each service has its own task queue, so test files never share workers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadServerConfig, loadWorkerConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import {
  startHttpService,
  startWorkerService,
  type HttpService,
  type WorkerService,
} from '../../src/main/services';
import { openDatabase } from '../../src/store';
import type { Database } from '../../src/store/types';
import type { ZegoApiClient } from '../../src/zego/api-client';
import type { FollowUp } from '../../activities/follow-ups';
import type { Tracing } from '../../src/telemetry';
import { temporalConnectConfig } from '../../src/temporal/connection';
import type { LifecycleStateDocument } from '../../workflows/definitions';
import { createTestDatabase } from '../../tools/postgres/test-database';
import {
  encodeCallback,
  TEST_CALLBACK_SECRET,
  type BodyForm,
  type ZegoCallbackBody,
} from '../../tools/callbacks/signed-callback';

export type DatabaseKind = 'postgres' | 'embedded';

/** The admin token of test services (TEST_ENV); `svc.get` sends it. */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** Short timers so lifecycles settle within seconds; a wide skew so tests can use past timestamps. */
export const TEST_ENV: Record<string, string> = {
  ZEGO_CALLBACK_SECRET: TEST_CALLBACK_SECRET,
  ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  ZEGO_CALLBACK_MAX_SKEW: '1h',
  LIFECYCLE_LINGER: '3s',
  ORPHAN_STOP_GRACE: '3s',
  MAX_TASK_DURATION: '20m',
  // Tests that leave a Sequence gap on purpose need not wait the real 90 s.
  SEQUENCE_GAP_GRACE: '3s',
  HANDOFF_TIMEOUT: '5s',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
};

export interface Reply {
  status: number;
  headers: Headers;
  json: Record<string, unknown> & { ok?: boolean };
}

export interface TestService {
  url: string;
  taskQueue: string;
  env: Record<string, string>;
  db: Database;
  databaseUrl: string | undefined;
  http: HttpService;
  worker: WorkerService | null;
  post(body: ZegoCallbackBody | string, form?: BodyForm, headers?: Record<string, string>): Promise<Reply>;
  /** GET on the admin surface, with the admin token. */
  get(pathname: string): Promise<Reply>;
  /** Any request on the admin surface, with the admin token unless `headers.authorization` is given. */
  admin(method: string, pathname: string, headers?: Record<string, string>): Promise<Reply>;
  /** Polls the task's state document until `until` holds. */
  waitForTask(
    appId: string,
    taskId: string,
    until: (doc: LifecycleStateDocument) => boolean,
    timeoutMs?: number,
  ): Promise<LifecycleStateDocument>;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  database: DatabaseKind;
  env?: Record<string, string>;
  /** Start without a worker (start it later with startWorker). */
  withoutWorker?: boolean;
  /** Use this database URL instead of creating a fresh one. */
  databaseUrl?: string;
  /** Another Temporal server than the global one (host:port). */
  temporalAddress?: string;
  /** Follow-ups registered besides the shipped ones. */
  followUps?: FollowUp[];
  /** ZEGO's API client for stale stops (e.g. pointed at the fake ZEGO API). */
  zegoApi?: ZegoApiClient | null;
  /** From startTracing (e.g. with an InMemorySpanExporter): traces the server and the worker. */
  tracing?: Tracing;
  /** Another workflow bundle than the global setup's (its tracing one when `tracing` is set). */
  workflowBundlePath?: string;
}

export async function startTestService(opts: ServiceOptions): Promise<TestService> {
  const taskQueue = `test-${randomUUID()}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'zego-test-'));
  const fresh = opts.database === 'postgres' && !opts.databaseUrl ? await createTestDatabase() : null;
  const databaseUrl = opts.databaseUrl ?? fresh?.url;
  const env: Record<string, string> = {
    ...TEST_ENV,
    TEMPORAL_TASK_QUEUE: taskQueue,
    DATA_DIR: dataDir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  };
  const logger = createLogger({ level: env.LOG_LEVEL as 'silent' });
  const temporal = temporalConnectConfig(
    opts.temporalAddress ? { ...process.env, TEMPORAL_ADDRESS: opts.temporalAddress } : process.env,
  );
  const workerConfig = loadWorkerConfig(env);
  // One database handle for the worker and the assertions: PGlite allows one opener per directory.
  const db = await openDatabase({ databaseUrl, dataDir, logger });
  // PostgreSQL: the server opens its own pool from DATABASE_URL, as in production. Embedded: it
  // shares the one PGlite handle, as `npm run dev` does.
  const http = await startHttpService(loadServerConfig(env), temporal, logger, {
    db: databaseUrl ? undefined : db,
    tracing: opts.tracing,
  });

  let worker: WorkerService | null = null;
  const startWorker = async () => {
    worker = await startWorkerService(workerConfig, temporal, logger, {
      workflowBundlePath:
        opts.workflowBundlePath ??
        (opts.tracing ? process.env.TEST_WORKFLOW_BUNDLE_TRACING : process.env.TEST_WORKFLOW_BUNDLE),
      db,
      followUps: opts.followUps,
      zegoApi: opts.zegoApi,
      env,
      tracing: opts.tracing,
    });
    void worker.run();
  };
  const stopWorker = async () => {
    const w = worker;
    worker = null;
    await w?.shutdown();
  };
  if (!opts.withoutWorker) await startWorker();

  // During a rotation (ADMIN_TOKEN=a,b) the helpers send the first token.
  const adminHeaders = { authorization: `Bearer ${env.ADMIN_TOKEN.split(',')[0].trim()}` };
  const request = async (pathname: string, init?: RequestInit): Promise<Reply> => {
    const res = await fetch(`${http.url}${pathname}`, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : {} };
  };

  const service: TestService = {
    url: http.url,
    taskQueue,
    env,
    db,
    databaseUrl,
    http,
    get worker() {
      return worker;
    },
    post(body, form = 'json', headers = {}) {
      const encoded =
        typeof body === 'string' ? { body, contentType: 'application/json' } : encodeCallback(body, form);
      return request('/zego/callback', {
        method: 'POST',
        body: encoded.body,
        headers: { 'content-type': encoded.contentType, ...headers },
      });
    },
    get: (pathname) => request(pathname, { headers: adminHeaders }),
    admin: (method, pathname, headers = {}) =>
      request(pathname, { method, headers: { ...adminHeaders, ...headers } }),
    async waitForTask(appId, taskId, until, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: Reply | undefined;
      while (Date.now() < deadline) {
        last = await request(`/apps/${encodeURIComponent(appId)}/tasks/${encodeURIComponent(taskId)}`, {
          headers: adminHeaders,
        });
        if (last.status === 200 && until(last.json as unknown as LifecycleStateDocument)) {
          return last.json as unknown as LifecycleStateDocument;
        }
        await sleep(200);
      }
      throw new Error(
        `task ${appId}/${taskId} did not reach the expected state: ${JSON.stringify(last?.json)}`,
      );
    },
    startWorker,
    stopWorker,
    async stop() {
      await stopWorker();
      await http.close();
      await db.close();
      await fresh?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return service;
}

/** Seconds since the epoch, `offset` seconds from now, as ZEGO writes a Timestamp. */
export function zegoTime(offsetSeconds = 0): string {
  return String(Math.floor(Date.now() / 1000) + offsetSeconds);
}

/** Unique ids per test, so tests sharing one Temporal server never meet. */
export function uniqueTask(prefix = 'task'): { appId: string; taskId: string } {
  return { appId: String(100000 + Math.floor(Math.random() * 899999)), taskId: `${prefix}-${randomUUID()}` };
}

/** Rows of the billing ledger (exactly-once checks). */
export async function ledgerRows(
  db: Database,
  appId: string,
  taskId: string,
): Promise<{ lifecycle_id: string }[]> {
  const { rows } = await db.sql.query<{ lifecycle_id: string }>(
    'SELECT lifecycle_id FROM billing_ledger WHERE app_id = $1 AND task_id = $2',
    [appId, taskId],
  );
  return rows;
}
