/**
 * No 503 window on a fresh namespace (run by `npm run test:cluster` only: a real cluster maps a new
 * search attribute through a namespace cache refreshed every few seconds; the dev server has its
 * attributes before it serves). For each case a namespace is registered a moment before, with no
 * search attributes, and the service registers them itself. From the first /readyz 200 on, callbacks
 * sent back to back must all be answered 200: for the server alone (without a database: the direct
 * hand-off, where a refusal would be an answer; with one: the inbox), and for server and worker
 * started in either order.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { loadServerConfig, loadWorkerConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import {
  startHttpService,
  startWorkerService,
  type HttpService,
  type WorkerService,
} from '../../src/main/services';
import { temporalConnectConfig } from '../../src/temporal/connection';
import { lifecycleWorkflowId } from '../../workflows/definitions';
import { pollUntil } from '../../tools/process/poll';
import { registerNamespace } from '../../tools/temporal-cluster/namespace';
import { createTestDatabase, type TestDatabase } from '../../tools/postgres/test-database';
import { TEST_ENV, uniqueTask, zegoTime } from '../helpers/service';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';

const logger = createLogger({ level: 'silent' });
const CALLBACKS_AFTER_READY = 40;

interface Started {
  http?: HttpService;
  worker?: WorkerService;
  workerRun?: Promise<void>;
  dataDir: string;
}

describe('a freshly created namespace', () => {
  let connection: Connection;
  const started: Started[] = [];
  const databases: TestDatabase[] = [];

  beforeAll(async () => {
    connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  });
  afterAll(async () => {
    for (const s of started) {
      await s.http?.close();
      await s.worker?.shutdown();
      await s.workerRun;
      rmSync(s.dataDir, { recursive: true, force: true });
    }
    await connection.close();
    for (const db of databases) await db.drop();
  });

  async function database(): Promise<TestDatabase> {
    const db = await createTestDatabase();
    databases.push(db);
    return db;
  }

  /** A namespace registered just now: not in the cluster's namespace cache yet, no search attributes. */
  async function freshNamespace(): Promise<string> {
    const namespace = `fresh-${randomUUID().slice(0, 8)}`;
    expect(await registerNamespace(connection, namespace)).toBe('created');
    return namespace;
  }

  function envFor(namespace: string, databaseUrl: string | undefined, s: Started) {
    const env: Record<string, string> = {
      ...TEST_ENV,
      TEMPORAL_TASK_QUEUE: `fresh-${namespace}`,
      DATA_DIR: s.dataDir,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    };
    const temporal = temporalConnectConfig({ ...process.env, TEMPORAL_NAMESPACE: namespace });
    return { env, temporal };
  }

  async function startServer(namespace: string, databaseUrl: string | undefined, s: Started) {
    const { env, temporal } = envFor(namespace, databaseUrl, s);
    s.http = await startHttpService(loadServerConfig(env), temporal, logger);
    return s.http;
  }

  async function startWorker(namespace: string, databaseUrl: string, s: Started) {
    const { env, temporal } = envFor(namespace, databaseUrl, s);
    s.worker = await startWorkerService(loadWorkerConfig(env), temporal, logger, {
      workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE,
      env,
    });
    s.workerRun = s.worker.run();
    return s.worker;
  }

  function setUp(): Started {
    const s: Started = { dataDir: mkdtempSync(path.join(tmpdir(), 'zego-fresh-')) };
    started.push(s);
    return s;
  }

  /** Polls /readyz every 50 ms until it says `ready`; returns the statuses it answered on the way. */
  async function waitForReady(http: HttpService, timeoutMs = 90_000): Promise<number[]> {
    const seen: number[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await fetch(`${http.url}/readyz`);
      const body = (await res.json()) as { status?: string };
      if (seen.at(-1) !== res.status) seen.push(res.status);
      if (res.status === 200 && body.status === 'ready') return seen;
      if (Date.now() > deadline) throw new Error(`/readyz not 200 within ${timeoutMs} ms: ${seen.join(',')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function post(http: HttpService, body: Record<string, unknown>) {
    const { body: text, contentType } = encodeCallback(body);
    const res = await fetch(`${http.url}/zego/callback`, {
      method: 'POST',
      body: text,
      headers: { 'content-type': contentType },
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  /** The callbacks a ZEGO would send right after the load balancer put the server in: all 200. */
  async function callbacksRightAfterReady(http: HttpService) {
    const tasks = Array.from({ length: CALLBACKS_AFTER_READY }, () => uniqueTask('fresh'));
    const statuses: number[] = [];
    for (const t of tasks) {
      const reply = await post(
        http,
        transcodeStart({ Appid: t.appId, TaskId: t.taskId, Timestamp: zegoTime(-60) }),
      );
      statuses.push(reply.status);
    }
    return { tasks, statuses };
  }

  async function workflowExists(namespace: string, appId: string, taskId: string): Promise<boolean> {
    try {
      await connection.workflowService.describeWorkflowExecution({
        namespace,
        execution: { workflowId: lifecycleWorkflowId(appId, taskId) },
      });
      return true;
    } catch {
      return false;
    }
  }

  it('the server alone without a database: not ready until a callback can go through, then 200 for every callback', async () => {
    const namespace = await freshNamespace();
    const s = setUp();
    const http = await startServer(namespace, undefined, s);
    expect(http.mode).toBe('direct');
    const seen = await waitForReady(http);
    const { tasks, statuses } = await callbacksRightAfterReady(http);
    expect(statuses.filter((code) => code !== 200)).toEqual([]);
    // Handed over for real: every lifecycle exists in the fresh namespace (no worker needed for that).
    for (const t of tasks) expect(await workflowExists(namespace, t.appId, t.taskId)).toBe(true);
    // It was not ready at first (the namespace and its attributes took a moment): the probe told.
    expect(seen[0]).toBe(503);
  }, 180_000);

  it('the server alone with a database: every callback 200 and delivered, /readyz ready once deliveries can go through', async () => {
    const namespace = await freshNamespace();
    const s = setUp();
    const db = await database();
    const http = await startServer(namespace, db.url, s);
    expect(http.mode).toBe('inbox');
    // Recorded at once, whatever Temporal says: 200 before /readyz says ready, too.
    const early = uniqueTask('fresh');
    expect(
      (
        await post(
          http,
          transcodeStart({ Appid: early.appId, TaskId: early.taskId, Timestamp: zegoTime(-60) }),
        )
      ).status,
    ).toBe(200);
    // 200 throughout (degraded, then ready): the inbox takes callbacks either way.
    expect(await waitForReady(http)).toEqual([200]);
    const { tasks, statuses } = await callbacksRightAfterReady(http);
    expect(statuses.filter((code) => code !== 200)).toEqual([]);
    await waitUntil(async () => {
      for (const t of [early, ...tasks])
        if (!(await workflowExists(namespace, t.appId, t.taskId))) return false;
      return true;
    }, 60_000);
  }, 180_000);

  for (const order of ['server first', 'worker first'] as const) {
    it(`server and worker, ${order}: 200 for every callback from the first ready on, and a lifecycle billed`, async () => {
      const namespace = await freshNamespace();
      const s = setUp();
      const db = await database();
      // Without a database for the server: the direct hand-off is where a 503 could show.
      if (order === 'server first') {
        await startServer(namespace, undefined, s);
        await startWorker(namespace, db.url, s);
      } else {
        await startWorker(namespace, db.url, s);
        await startServer(namespace, undefined, s);
      }
      const http = s.http!;
      await waitForReady(http);
      const { statuses } = await callbacksRightAfterReady(http);
      expect(statuses.filter((code) => code !== 200)).toEqual([]);

      // All the way: a lifecycle of this namespace is billed by the worker.
      const { appId, taskId } = uniqueTask('fresh');
      const now = Number(zegoTime());
      expect(
        (await post(http, transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 120) })))
          .status,
      ).toBe(200);
      expect(
        (
          await post(
            http,
            transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) }),
          )
        ).status,
      ).toBe(200);
      await waitUntil(async () => {
        const res = await fetch(
          `${http.adminUrl}/apps/${encodeURIComponent(appId)}/tasks/${encodeURIComponent(taskId)}`,
          {
            headers: { authorization: `Bearer ${TEST_ENV.ADMIN_TOKEN}` },
          },
        );
        if (res.status !== 200) return false;
        const doc = (await res.json()) as { billing?: { status?: string; billableMinutes?: number } };
        return doc.billing?.status === 'finalized' && doc.billing.billableMinutes === 2;
      }, 90_000);
    }, 240_000);
  }
});

/** The tooling's one polling loop, failing the test when `check` never holds. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const { done } = await pollUntil(check, (ok) => ok, { timeoutMs, everyMs: 250 });
  if (!done) throw new Error(`condition not met within ${timeoutMs} ms`);
}
