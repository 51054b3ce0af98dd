/**
 * The lifecycle activities against both database backends (a fresh real PostgreSQL database and the
 * embedded PGlite) and a local HTTP alert receiver. Activities are plain functions; a few also run
 * through MockActivityEnvironment to check they behave inside an activity context.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure, type Logger as TemporalLogger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createActivities, type ActivityDeps, type FinalizeBillingInput } from '../../activities';
import { openDatabase } from '../../src/store';
import type { AlertEntry, Database } from '../../src/store/types';
import { ZEGO_LIST_PRICES } from '../../src/zego/billing';
import { TIERS, type PriceTable } from '../../src/zego/billing-types';
import { createTestDatabase } from '../../tools/postgres/test-database';

// ---------------------------------------------------------------------------------------------
// helpers

type LogLine = Record<string, unknown> & { level: number; msg: string };

function captureLogger() {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) },
  );
  return { logger, lines };
}

interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface ScriptedResponse {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

/**
 * A local alert receiver: records every request, answers from a script (then 200), and treats a
 * repeated Idempotency-Key as the same alert, like a real receiver would.
 */
class AlertReceiver {
  readonly requests: ReceivedRequest[] = [];
  readonly accepted = new Map<string, unknown>();
  private readonly script: ScriptedResponse[] = [];
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/alerts?token=secret`;
    return this;
  }

  respondWith(...responses: ScriptedResponse[]): void {
    this.script.push(...responses);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const next = this.script.shift() ?? { status: 200 };
    if (next.delayMs) {
      // A slow receiver: answers late, or never when the client gives up first.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, next.delayMs);
        res.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (res.destroyed) return;
    const key = req.headers['idempotency-key'];
    if (next.status >= 200 && next.status < 300 && typeof key === 'string' && !this.accepted.has(key)) {
      this.accepted.set(key, JSON.parse(body));
    }
    res.writeHead(next.status, { 'content-type': 'text/plain', ...next.headers });
    res.end(next.body ?? (next.status < 300 ? 'ok' : `status ${next.status}`));
  }
}

/** MockActivityEnvironment logs every failed attempt; these tests fail attempts on purpose. */
const quiet: TemporalLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function activityEnv(
  info: ConstructorParameters<typeof MockActivityEnvironment>[0],
): MockActivityEnvironment {
  return new MockActivityEnvironment(info, { logger: quiet });
}

/** A URL on which nothing listens: bind a port, then release it. */
async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/alerts`;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

const START_MS = 1_700_000_000_000;
const HD_OUTPUT = { StreamId: 'out-720', Width: 1280, Height: 720 };

function uid(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

function billingInput(overrides: Partial<FinalizeBillingInput> = {}): FinalizeBillingInput {
  const taskId = uid('task');
  const lifecycleId = overrides.lifecycleId ?? uid('lc');
  return {
    lifecycleId,
    workflowId: `zego-transcode:111111:${taskId}`,
    appId: '111111',
    taskId,
    userId: 'user-1',
    billable: true,
    startedAt: new Date(START_MS).toISOString(),
    stoppedAt: new Date(START_MS + 600_000).toISOString(),
    segments: [{ fromMs: START_MS, outputs: [HD_OUTPUT] }],
    endMs: START_MS + 600_000,
    ...overrides,
  };
}

function alertEntry(overrides: Partial<AlertEntry> = {}): AlertEntry {
  const taskId = overrides.taskId ?? uid('task');
  const lifecycleId = overrides.lifecycleId ?? uid('lc');
  return {
    key: `abnormal_stop:${lifecycleId}`,
    kind: 'abnormal_stop',
    appId: '111111',
    taskId,
    userId: 'user-1',
    workflowId: `zego-transcode:111111:${taskId}`,
    lifecycleId,
    reason: 'ZEGO stopped the task after an exception (StopReason 1)',
    occurredAt: new Date(START_MS + 600_000).toISOString(),
    details: { stopReason: 1, sequence: 2 },
    ...overrides,
  };
}

const DOUBLE_PRICES = Object.fromEntries(
  TIERS.map((tier) => [tier, ZEGO_LIST_PRICES[tier] * 2]),
) as PriceTable;

// ---------------------------------------------------------------------------------------------
// backends

interface OpenedBackend {
  db: Database;
  close(): Promise<void>;
}

const backends: Array<[string, () => Promise<OpenedBackend>]> = [
  [
    'postgres',
    async () => {
      const testDb = await createTestDatabase();
      const dataDir = await mkdtemp(path.join(tmpdir(), 'activities-pg-'));
      const db = await openDatabase({ databaseUrl: testDb.url, dataDir });
      return {
        db,
        close: async () => {
          await db.close();
          await testDb.drop();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    },
  ],
  [
    'embedded',
    async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'activities-pglite-'));
      const db = await openDatabase({ dataDir });
      return {
        db,
        close: async () => {
          await db.close();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    },
  ],
];

describe.each(backends)('lifecycle activities on %s', (_name, open) => {
  let backend: OpenedBackend;
  let db: Database;
  let receiver: AlertReceiver;

  beforeAll(async () => {
    backend = await open();
    db = backend.db;
  });
  afterAll(async () => {
    await backend?.close();
  });
  beforeEach(async () => {
    receiver = await new AlertReceiver().start();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  function activities(overrides: Partial<ActivityDeps> = {}) {
    const { logger, lines } = captureLogger();
    const acts = createActivities({
      db,
      prices: ZEGO_LIST_PRICES,
      unknownResolutionTier: 'hd',
      logger,
      alertTimeoutMs: 2_000,
      ...overrides,
    });
    return { ...acts, lines };
  }

  async function ledgerRowCount(lifecycleId: string): Promise<number> {
    const { rows } = await db.sql.query<{ n: number | string }>(
      'SELECT count(*) AS n FROM billing_ledger WHERE lifecycle_id = $1',
      [lifecycleId],
    );
    return Number(rows[0].n);
  }

  // -------------------------------------------------------------------------------------------
  describe('finalizeBilling', () => {
    it('bills the contract example: 600 s at 1280x720 -> hd, 10 min, 0.25 CNY', async () => {
      const { finalizeBilling, lines } = activities();
      const input = billingInput();
      const record = await finalizeBilling(input);

      expect(record).toMatchObject({
        lifecycleId: input.lifecycleId,
        workflowId: input.workflowId,
        appId: '111111',
        taskId: input.taskId,
        userId: 'user-1',
        status: 'finalized',
        startedAt: input.startedAt,
        stoppedAt: input.stoppedAt,
        billableSeconds: 600,
        billableMinutes: 10,
        lines: [{ tier: 'hd', seconds: 600, minutes: 10, cost: 0.25 }],
        currency: 'CNY',
        totalCost: 0.25,
      });
      expect(typeof record.finalizedAt).toBe('string');
      expect(await db.ledger.get(input.lifecycleId)).toEqual(record);

      const logged = lines.filter((l) => l.lifecycleId === input.lifecycleId);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({
        appId: '111111',
        taskId: input.taskId,
        totalCost: 0.25,
        billableMinutes: 10,
        inserted: true,
      });
    });

    it('writes exactly once under 5 concurrent calls, whatever prices the callers hold', async () => {
      const input = billingInput();
      const callers = [ZEGO_LIST_PRICES, DOUBLE_PRICES, ZEGO_LIST_PRICES, DOUBLE_PRICES, DOUBLE_PRICES].map(
        (prices) => activities({ prices }),
      );
      const records = await Promise.all(callers.map((a) => a.finalizeBilling(input)));

      for (const r of records) expect(r).toEqual(records[0]);
      expect([0.25, 0.5]).toContain(records[0].totalCost);
      expect(await ledgerRowCount(input.lifecycleId)).toBe(1);
      expect(await db.ledger.get(input.lifecycleId)).toEqual(records[0]);
      const inserted = callers.flatMap((c) => c.lines).filter((l) => l.inserted === true);
      expect(inserted.length).toBeLessThanOrEqual(1);
    });

    it('returns the first stored record on sequential repeats, even after prices changed', async () => {
      const input = billingInput();
      const first = await activities().finalizeBilling(input);
      expect(first.totalCost).toBe(0.25);

      for (let i = 0; i < 4; i++) {
        const later = activities({ prices: DOUBLE_PRICES });
        // A retry may even carry different inputs (e.g. a longer endMs): the ledger wins.
        const again = await later.finalizeBilling({ ...input, endMs: input.endMs! + i * 60_000 });
        expect(again).toEqual(first);
        expect(later.lines.find((l) => l.lifecycleId === input.lifecycleId)).toMatchObject({
          inserted: false,
        });
      }
      expect(await ledgerRowCount(input.lifecycleId)).toBe(1);
    });

    it('writes a zero not_billable record when no start was seen', async () => {
      const input = billingInput({ billable: false, startedAt: null, segments: [], endMs: null });
      const record = await activities().finalizeBilling(input);
      expect(record).toMatchObject({
        lifecycleId: input.lifecycleId,
        status: 'not_billable',
        startedAt: null,
        stoppedAt: input.stoppedAt,
        billableSeconds: 0,
        billableMinutes: 0,
        lines: [],
        currency: 'CNY',
        totalCost: 0,
      });
      expect(await db.ledger.get(input.lifecycleId)).toEqual(record);
      // Once not_billable, always not_billable for this lifecycle.
      const again = await activities().finalizeBilling({ ...billingInput(), lifecycleId: input.lifecycleId });
      expect(again).toEqual(record);
    });

    it('rejects a billable lifecycle without an end as a non-retryable business failure', async () => {
      const input = billingInput({ endMs: null });
      const failure = await failureOf(activities().finalizeBilling(input));
      expect(failure.nonRetryable).toBe(true);
      expect(failure.type).toBe('InvalidBillingInput');
      expect(await db.ledger.get(input.lifecycleId)).toBeNull();
    });

    it('runs inside an activity context (MockActivityEnvironment)', async () => {
      const { finalizeBilling } = activities();
      const input = billingInput();
      const env = activityEnv({ activityType: 'finalizeBilling', attempt: 3 });
      const record = await env.run(finalizeBilling, input);
      expect(record).toMatchObject({ status: 'finalized', totalCost: 0.25 });
      expect(await env.run(finalizeBilling, { ...input, endMs: input.endMs! * 2 })).toEqual(record);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('amendStaleBilling', () => {
    const SD_OUTPUT = { StreamId: 'out-360', Width: 640, Height: 360 };
    /** A stale task billed to its deadline (20 min, HD), whose own stop came after 60 min. */
    function staleLifecycle() {
      const finalize = billingInput({
        stoppedAt: new Date(START_MS + 1_200_000).toISOString(),
        endMs: START_MS + 1_200_000,
      });
      const amend = {
        lifecycleId: finalize.lifecycleId,
        stoppedAt: new Date(START_MS + 3_600_000).toISOString(),
        // An update switched to SD after the stale deadline: it counts too.
        segments: [
          { fromMs: START_MS, outputs: [HD_OUTPUT] },
          { fromMs: START_MS + 1_800_000, outputs: [SD_OUTPUT] },
        ],
        endMs: START_MS + 3_600_000,
      };
      return { finalize, amend };
    }

    it('recomputes the bill to the stop, once, keeping the stale bill as the previous values', async () => {
      const { finalize, amend } = staleLifecycle();
      const { finalizeBilling, amendStaleBilling, lines } = activities();
      const stale = await finalizeBilling(finalize);
      expect(stale).toMatchObject({ billableMinutes: 20, totalCost: 0.5, revision: 1 });

      const amended = await amendStaleBilling(amend);
      expect(amended).toEqual({
        ...stale,
        stoppedAt: amend.stoppedAt,
        billableSeconds: 3600,
        billableMinutes: 60,
        lines: [
          { tier: 'sd', seconds: 1800, minutes: 30, cost: 0.36 },
          { tier: 'hd', seconds: 1800, minutes: 30, cost: 0.75 },
        ],
        totalCost: 1.11,
        revision: 2,
        amendedAt: expect.any(String),
      });
      expect(await db.ledger.get(finalize.lifecycleId)).toEqual(amended);
      expect(await ledgerRowCount(finalize.lifecycleId)).toBe(1);
      expect(await db.ledger.amendments(finalize.lifecycleId)).toEqual([
        expect.objectContaining({
          revision: 2,
          reason: 'stale_stop',
          previous: {
            startedAt: stale.startedAt,
            stoppedAt: stale.stoppedAt,
            billableSeconds: 1200,
            billableMinutes: 20,
            totalCost: 0.5,
            lines: stale.lines,
          },
        }),
      ]);
      expect(lines.filter((l) => l.lifecycleId === finalize.lifecycleId).map((l) => l.msg)).toEqual([
        'billing finalized',
        'stale billing amended to the task’s own stop',
      ]);
    });

    it('a retry (lost reply, other prices, other input) finds the amendment done and returns it', async () => {
      const { finalize, amend } = staleLifecycle();
      await activities().finalizeBilling(finalize);
      const first = await activities().amendStaleBilling(amend);
      const retry = activities({ prices: DOUBLE_PRICES });
      const env = activityEnv({ activityType: 'amendStaleBilling', attempt: 2 });
      expect(await env.run(retry.amendStaleBilling, { ...amend, endMs: amend.endMs + 600_000 })).toEqual(
        first,
      );
      expect(retry.lines.find((l) => l.lifecycleId === finalize.lifecycleId)?.msg).toBe(
        'stale billing already amended',
      );
      expect(await db.ledger.amendments(finalize.lifecycleId)).toHaveLength(1);
    });

    it('under 5 concurrent calls amends once; every caller gets the same record', async () => {
      const { finalize, amend } = staleLifecycle();
      await activities().finalizeBilling(finalize);
      const records = await Promise.all(
        [ZEGO_LIST_PRICES, DOUBLE_PRICES, ZEGO_LIST_PRICES, DOUBLE_PRICES, DOUBLE_PRICES].map((prices) =>
          activities({ prices }).amendStaleBilling(amend),
        ),
      );
      for (const r of records) expect(r).toEqual(records[0]);
      expect(records[0].revision).toBe(2);
      expect(await db.ledger.amendments(finalize.lifecycleId)).toHaveLength(1);
    });

    it('fails non-retryably when there is nothing to amend (no row, or a not-billable one)', async () => {
      const { finalize, amend } = staleLifecycle();
      const missing = await failureOf(activities().amendStaleBilling(amend));
      expect(missing).toMatchObject({ nonRetryable: true, type: 'BillingNotAmendable' });
      expect(await db.ledger.get(finalize.lifecycleId)).toBeNull();

      await activities().finalizeBilling({ ...finalize, billable: false, segments: [], endMs: null });
      const notBillable = await failureOf(activities().amendStaleBilling(amend));
      expect(notBillable).toMatchObject({ nonRetryable: true, type: 'BillingNotAmendable' });
      expect(await db.ledger.get(finalize.lifecycleId)).toMatchObject({
        status: 'not_billable',
        revision: 1,
      });
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('amendBilling', () => {
    it('recomputes the bill to an earlier start, once per numbered reason, moving started_at', async () => {
      // Billed from a re-signed start copy 61 s late (539 s: 9 HD minutes); the original says START_MS.
      const finalize = billingInput({
        startedAt: new Date(START_MS + 61_000).toISOString(),
        segments: [{ fromMs: START_MS + 61_000, outputs: [HD_OUTPUT] }],
      });
      const { finalizeBilling, amendBilling, lines } = activities();
      const billed = await finalizeBilling(finalize);
      expect(billed).toMatchObject({
        billableSeconds: 539,
        billableMinutes: 9,
        totalCost: 0.225,
        revision: 1,
      });

      const amend = {
        lifecycleId: finalize.lifecycleId,
        reason: 'earlier_timestamp:1' as const,
        startedAt: new Date(START_MS).toISOString(),
        stoppedAt: finalize.stoppedAt!,
        segments: [{ fromMs: START_MS, outputs: [HD_OUTPUT] }],
        endMs: finalize.endMs!,
      };
      const amended = await amendBilling(amend);
      expect(amended).toEqual({
        ...billed,
        startedAt: amend.startedAt,
        billableSeconds: 600,
        billableMinutes: 10,
        lines: [{ tier: 'hd', seconds: 600, minutes: 10, cost: 0.25 }],
        totalCost: 0.25,
        revision: 2,
        amendedAt: expect.any(String),
      });
      // A retry, even with other input, finds it done.
      const env = activityEnv({ activityType: 'amendBilling', attempt: 2 });
      expect(await env.run(amendBilling, { ...amend, endMs: amend.endMs + 60_000 })).toEqual(amended);
      expect(await db.ledger.amendments(finalize.lifecycleId)).toEqual([
        expect.objectContaining({
          revision: 2,
          reason: 'earlier_timestamp:1',
          previous: expect.objectContaining({ startedAt: finalize.startedAt, billableMinutes: 9 }),
        }),
      ]);
      expect(lines.filter((l) => l.lifecycleId === finalize.lifecycleId).map((l) => l.msg)).toEqual([
        'billing finalized',
        'billing amended to earlier-signed originals',
        'billing already amended to earlier-signed originals',
      ]);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('registerActiveTask / cleanupTask', () => {
    it('removes only the row of its own lifecycle', async () => {
      const { registerActiveTask, cleanupTask } = activities();
      const appId = uid('app');
      const taskA = uid('task');
      const taskB = uid('task');
      const base = {
        appId,
        userId: 'user-1',
        startedAt: new Date(START_MS).toISOString(),
        input: { StreamId: 'in-1' },
        outputs: [HD_OUTPUT],
      };
      await registerActiveTask({ ...base, taskId: taskA, workflowId: `wf:${taskA}`, lifecycleId: 'lc-a1' });
      await registerActiveTask({ ...base, taskId: taskA, workflowId: `wf:${taskA}`, lifecycleId: 'lc-a1' }); // retry
      await registerActiveTask({ ...base, taskId: taskB, workflowId: `wf:${taskB}`, lifecycleId: 'lc-b1' });

      let rows = await db.registry.list({ appId });
      expect(rows.map((r) => [r.taskId, r.lifecycleId]).sort()).toEqual(
        [
          [taskA, 'lc-a1'],
          [taskB, 'lc-b1'],
        ].sort(),
      );
      expect(rows.find((r) => r.taskId === taskA)).toMatchObject({
        userId: 'user-1',
        input: { StreamId: 'in-1' },
        outputs: [HD_OUTPUT],
        startedAt: base.startedAt,
      });

      // Another lifecycle of the same task cannot remove lc-a1's row.
      expect(await cleanupTask({ appId, taskId: taskA, lifecycleId: 'lc-a0' })).toEqual({ removed: false });
      expect(await db.registry.list({ appId })).toHaveLength(2);

      expect(await cleanupTask({ appId, taskId: taskA, lifecycleId: 'lc-a1' })).toEqual({ removed: true });
      expect(await cleanupTask({ appId, taskId: taskA, lifecycleId: 'lc-a1' })).toEqual({ removed: false });
      rows = await db.registry.list({ appId });
      expect(rows.map((r) => [r.taskId, r.lifecycleId])).toEqual([[taskB, 'lc-b1']]);
    });

    it('leaves a newer lifecycle of the same task alone when the old one cleans up late', async () => {
      const { registerActiveTask, cleanupTask } = activities();
      const appId = uid('app');
      const taskId = uid('task');
      const base = {
        appId,
        taskId,
        userId: '',
        workflowId: `wf:${taskId}`,
        startedAt: null,
        input: null,
        outputs: [],
      };
      await registerActiveTask({ ...base, lifecycleId: 'lc-1' });
      await registerActiveTask({ ...base, lifecycleId: 'lc-2' });
      expect(await cleanupTask({ appId, taskId, lifecycleId: 'lc-1' })).toEqual({ removed: false });
      expect((await db.registry.list({ appId })).map((r) => r.lifecycleId)).toEqual(['lc-2']);
      const env = activityEnv({ activityType: 'cleanupTask' });
      expect(await env.run(cleanupTask, { appId, taskId, lifecycleId: 'lc-2' })).toEqual({ removed: true });
      expect(await db.registry.list({ appId })).toEqual([]);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('recordAlert / deliverAlert', () => {
    it('records an alert once, logging it at warn level the first time only', async () => {
      const { recordAlert, lines } = activities({ alertWebhookUrl: receiver.url });
      const entry = alertEntry();
      const first = await recordAlert(entry);
      const second = await recordAlert({ ...entry, reason: 'a different reason on retry' });

      expect(first).toMatchObject({ ...entry, delivery: 'pending', deliveredAt: null, deliveryError: null });
      expect(typeof first.createdAt).toBe('string');
      expect(second).toEqual(first);
      expect(await db.alerts.list({ taskId: entry.taskId })).toEqual([first]);

      const warned = lines.filter((l) => l.key === entry.key);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({
        level: 40,
        kind: 'abnormal_stop',
        appId: entry.appId,
        taskId: entry.taskId,
        reason: entry.reason,
        key: entry.key,
      });
    });

    it("marks delivery 'not_configured' when no webhook is set", async () => {
      const { recordAlert, deliverAlert } = activities();
      const entry = alertEntry();
      expect(await recordAlert(entry)).toMatchObject({ delivery: 'not_configured' });
      expect(await recordAlert(entry)).toMatchObject({ delivery: 'not_configured' });
      expect(await deliverAlert({ key: entry.key })).toEqual({ delivery: 'not_configured' });
      expect((await db.alerts.list({ taskId: entry.taskId }))[0]).toMatchObject({
        delivery: 'not_configured',
      });
      expect(receiver.requests).toHaveLength(0);
    });

    it('retries after a 500 and delivers on the next attempt with the same Idempotency-Key and body', async () => {
      const { recordAlert, deliverAlert } = activities({ alertWebhookUrl: receiver.url });
      const entry = alertEntry();
      const stored = await recordAlert(entry);
      receiver.respondWith({ status: 500, body: 'receiver down' }, { status: 200 });

      const failure = await failureOf(deliverAlert({ key: entry.key }));
      expect(failure.nonRetryable).toBe(false);
      expect(failure.type).toBe('AlertDeliveryUnavailable');
      expect(failure.message).toContain('500');
      expect((await db.alerts.list({ taskId: entry.taskId }))[0]).toMatchObject({ delivery: 'pending' });

      expect(await deliverAlert({ key: entry.key })).toEqual({ delivery: 'delivered' });
      const after = (await db.alerts.list({ taskId: entry.taskId }))[0];
      expect(after).toMatchObject({ delivery: 'delivered' });
      expect(typeof after.deliveredAt).toBe('string');

      expect(receiver.requests).toHaveLength(2);
      const expectedBody = {
        kind: 'abnormal_stop',
        appId: entry.appId,
        taskId: entry.taskId,
        userId: entry.userId,
        workflowId: entry.workflowId,
        lifecycleId: entry.lifecycleId,
        reason: entry.reason,
        occurredAt: entry.occurredAt,
        recordedAt: stored.createdAt,
        idempotencyKey: entry.key,
        details: entry.details,
      };
      for (const req of receiver.requests) {
        expect(req.method).toBe('POST');
        expect(req.url).toBe('/alerts?token=secret');
        expect(req.headers['idempotency-key']).toBe(entry.key);
        expect(req.headers['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(req.body)).toEqual(expectedBody);
      }
      expect(receiver.accepted.get(entry.key)).toEqual(expectedBody);

      // Already delivered: a further call does not POST again.
      expect(await deliverAlert({ key: entry.key })).toEqual({ delivery: 'delivered' });
      expect(receiver.requests).toHaveLength(2);
    });

    it('treats 408 and 429 as retryable, honouring Retry-After', async () => {
      const { recordAlert, deliverAlert } = activities({ alertWebhookUrl: receiver.url });
      const entry = alertEntry();
      await recordAlert(entry);
      receiver.respondWith({ status: 429, headers: { 'retry-after': '7' } }, { status: 408 });

      const throttled = await failureOf(deliverAlert({ key: entry.key }));
      expect(throttled.nonRetryable).toBe(false);
      expect(throttled.nextRetryDelay).toBe(7_000);
      const timedOut = await failureOf(deliverAlert({ key: entry.key }));
      expect(timedOut.nonRetryable).toBe(false);
      expect(timedOut.nextRetryDelay).toBeUndefined();

      expect(await deliverAlert({ key: entry.key })).toEqual({ delivery: 'delivered' });
      expect(receiver.requests).toHaveLength(3);
    });

    it("fails non-retryably on a 400 and marks the alert 'failed'", async () => {
      const { recordAlert, deliverAlert } = activities({ alertWebhookUrl: receiver.url });
      const entry = alertEntry();
      await recordAlert(entry);
      receiver.respondWith({ status: 400, body: 'unknown kind' });

      const failure = await failureOf(deliverAlert({ key: entry.key }));
      expect(failure.nonRetryable).toBe(true);
      expect(failure.type).toBe('AlertDeliveryRejected');
      expect(failure.message).toContain('400');
      expect(failure.details).toEqual([{ status: 400 }]);
      const stored = (await db.alerts.list({ taskId: entry.taskId }))[0];
      expect(stored).toMatchObject({ delivery: 'failed', deliveredAt: null });
      expect(stored.deliveryError).toContain('400');
      expect(stored.deliveryError).toContain('unknown kind');
    });

    it('throws retryable on an unreachable receiver without touching billing', async () => {
      const url = await closedPortUrl();
      const { finalizeBilling, recordAlert, deliverAlert } = activities({ alertWebhookUrl: url });
      const input = billingInput();
      const billed = await finalizeBilling(input);
      const entry = alertEntry({ lifecycleId: input.lifecycleId, taskId: input.taskId });
      await recordAlert(entry);

      const failure = await failureOf(deliverAlert({ key: entry.key }));
      expect(failure.nonRetryable).toBe(false);
      expect(failure.type).toBe('AlertDeliveryUnavailable');

      expect(await db.ledger.get(input.lifecycleId)).toEqual(billed);
      expect(await ledgerRowCount(input.lifecycleId)).toBe(1);
      expect((await db.alerts.list({ taskId: entry.taskId }))[0]).toMatchObject({ delivery: 'pending' });
    });

    it('throws retryable when the receiver does not answer within the timeout', async () => {
      const { recordAlert, deliverAlert } = activities({
        alertWebhookUrl: receiver.url,
        alertTimeoutMs: 200,
      });
      const entry = alertEntry();
      await recordAlert(entry);
      receiver.respondWith({ status: 200, delayMs: 2_000 });

      const started = Date.now();
      const failure = await failureOf(deliverAlert({ key: entry.key }));
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(failure.nonRetryable).toBe(false);
      expect(failure.message).toContain('timed out');
      expect((await db.alerts.list({ taskId: entry.taskId }))[0]).toMatchObject({ delivery: 'pending' });
    });

    it("marks 'failed' only when Temporal's last attempt fails retryably", async () => {
      const { recordAlert, deliverAlert } = activities({ alertWebhookUrl: receiver.url });
      const entry = alertEntry();
      await recordAlert(entry);
      receiver.respondWith({ status: 503 }, { status: 503 });
      const retryPolicy = { maximumAttempts: 3 };

      const attempt2 = activityEnv({ activityType: 'deliverAlert', attempt: 2, retryPolicy });
      expect((await failureOf(attempt2.run(deliverAlert, { key: entry.key }))).nonRetryable).toBe(false);
      expect((await db.alerts.list({ taskId: entry.taskId }))[0]).toMatchObject({ delivery: 'pending' });

      const attempt3 = activityEnv({ activityType: 'deliverAlert', attempt: 3, retryPolicy });
      expect((await failureOf(attempt3.run(deliverAlert, { key: entry.key }))).nonRetryable).toBe(false);
      const stored = (await db.alerts.list({ taskId: entry.taskId }))[0];
      expect(stored).toMatchObject({ delivery: 'failed' });
      expect(stored.deliveryError).toContain('503');
    });

    it('fails non-retryably for a key that was never recorded', async () => {
      const { deliverAlert } = activities({ alertWebhookUrl: receiver.url });
      const failure = await failureOf(deliverAlert({ key: uid('missing') }));
      expect(failure.nonRetryable).toBe(true);
      expect(failure.type).toBe('AlertNotFound');
      expect(receiver.requests).toHaveLength(0);
    });

    it('resolves an alert once and sends its all-clear to the same webhook, keyed <key>:resolved', async () => {
      const { recordAlert, resolveAlert, deliverAlert, lines } = activities({
        alertWebhookUrl: receiver.url,
      });
      const entry = alertEntry({ kind: 'stale_task', key: uid('stale_task') });
      const stored = await recordAlert(entry);
      expect(await deliverAlert({ key: entry.key })).toEqual({ delivery: 'delivered' });
      const unresolved = await failureOf(deliverAlert({ key: entry.key, resolved: true }));
      expect(unresolved).toMatchObject({ nonRetryable: true, type: 'AlertNotFound' });

      const resolution = {
        key: entry.key,
        resolution: 'the task’s own stop arrived',
        resolvedAt: entry.occurredAt,
      };
      const resolved = await resolveAlert(resolution);
      expect(resolved).toMatchObject({
        resolvedAt: entry.occurredAt,
        resolution: 'the task’s own stop arrived',
        resolutionDelivery: 'pending',
        delivery: 'delivered',
      });
      expect(await resolveAlert({ ...resolution, resolution: 'a retry says otherwise' })).toEqual(resolved);
      expect(lines.filter((l) => l.key === entry.key && /resolved/.test(l.msg))).toHaveLength(1);

      receiver.respondWith({ status: 503 }, { status: 200 });
      expect((await failureOf(deliverAlert({ key: entry.key, resolved: true }))).nonRetryable).toBe(false);
      expect(await deliverAlert({ key: entry.key, resolved: true })).toEqual({ delivery: 'delivered' });
      expect(await deliverAlert({ key: entry.key, resolved: true })).toEqual({ delivery: 'delivered' });
      const allClear = receiver.requests.slice(1);
      expect(allClear).toHaveLength(2);
      const expectedBody = {
        kind: 'stale_task',
        appId: entry.appId,
        taskId: entry.taskId,
        userId: entry.userId,
        workflowId: entry.workflowId,
        lifecycleId: entry.lifecycleId,
        reason: entry.reason,
        occurredAt: entry.occurredAt,
        recordedAt: stored.createdAt,
        idempotencyKey: `${entry.key}:resolved`,
        details: entry.details,
        resolved: true,
        resolvedAt: entry.occurredAt,
        resolution: 'the task’s own stop arrived',
      };
      for (const req of allClear) {
        expect(req.headers['idempotency-key']).toBe(`${entry.key}:resolved`);
        expect(JSON.parse(req.body)).toEqual(expectedBody);
      }
      expect(await db.alerts.get(entry.key)).toMatchObject({
        delivery: 'delivered',
        resolutionDelivery: 'delivered',
        resolutionDeliveryError: null,
      });
    });

    it("without a webhook the all-clear is 'not_configured'; an unknown key fails non-retryably", async () => {
      const { recordAlert, resolveAlert, deliverAlert } = activities();
      const entry = alertEntry({ kind: 'stale_task', key: uid('stale_task') });
      await recordAlert(entry);
      expect(
        await resolveAlert({ key: entry.key, resolution: 'stopped', resolvedAt: entry.occurredAt }),
      ).toMatchObject({ resolution: 'stopped', resolutionDelivery: 'not_configured' });
      expect(await deliverAlert({ key: entry.key, resolved: true })).toEqual({ delivery: 'not_configured' });
      const unknown = await failureOf(
        resolveAlert({ key: uid('missing'), resolution: 'stopped', resolvedAt: entry.occurredAt }),
      );
      expect(unknown).toMatchObject({ nonRetryable: true, type: 'AlertNotFound' });
      expect(receiver.requests).toHaveLength(0);
    });

    it("marks the all-clear 'failed' on Temporal's last attempt, leaving the alert's own delivery alone", async () => {
      const { recordAlert, resolveAlert, deliverAlert } = activities({ alertWebhookUrl: receiver.url });
      const entry = alertEntry({ kind: 'stale_task', key: uid('stale_task') });
      await recordAlert(entry);
      await resolveAlert({ key: entry.key, resolution: 'stopped', resolvedAt: entry.occurredAt });
      receiver.respondWith({ status: 503 });
      const last = activityEnv({
        activityType: 'deliverAlert',
        attempt: 3,
        retryPolicy: { maximumAttempts: 3 },
      });
      expect((await failureOf(last.run(deliverAlert, { key: entry.key, resolved: true }))).nonRetryable).toBe(
        false,
      );
      const stored = await db.alerts.get(entry.key);
      expect(stored).toMatchObject({ delivery: 'pending', resolutionDelivery: 'failed' });
      expect(stored?.resolutionDeliveryError).toContain('503');
    });

    it('records and delivers inside an activity context, and stops a POST when cancelled', async () => {
      const { recordAlert, deliverAlert } = activities({
        alertWebhookUrl: receiver.url,
        alertTimeoutMs: 30_000,
      });
      const entry = alertEntry();
      const env = activityEnv({ activityType: 'deliverAlert' });
      expect(await env.run(recordAlert, entry)).toMatchObject({ key: entry.key, delivery: 'pending' });
      expect(await env.run(deliverAlert, { key: entry.key })).toEqual({ delivery: 'delivered' });
      expect(receiver.requests).toHaveLength(1);

      const other = alertEntry();
      await recordAlert(other);
      receiver.respondWith({ status: 200, delayMs: 20_000 });
      const cancellable = activityEnv({ activityType: 'deliverAlert' });
      const running = cancellable.run(deliverAlert, { key: other.key }).then(
        () => undefined,
        (e: unknown) => e,
      );
      while (receiver.requests.length < 2) await sleep(10);
      cancellable.cancel();
      expect(await running).toBeInstanceOf(CancelledFailure);
      expect((await db.alerts.list({ taskId: other.taskId }))[0]).toMatchObject({ delivery: 'pending' });
    });
  });
});
