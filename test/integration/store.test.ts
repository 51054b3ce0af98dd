/**
 * The store's behaviour, run identically against PostgreSQL (a fresh database per run) and the
 * embedded PGlite (a temp directory), plus what is specific to each: concurrent migrations and
 * finalizes from several pools (PostgreSQL), persistence and the directory lock (PGlite).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import pino from 'pino';
import {
  createNonceStore,
  MemoryNonceStore,
  MIGRATIONS,
  openDatabase,
  PostgresNonceStore,
  runMigrations,
  type AlertEntry,
  type BillingAmendment,
  type BillingRecord,
  type Database,
  type NonceBinding,
  type NonceStore,
  type SqlClient,
} from '../../src/store';
import { isoSql } from '../../src/store/sql';
import { createTestDatabase, type TestDatabase } from '../../tools/postgres/test-database';
import { embeddedBackend, postgresBackend } from '../helpers/store-backends';

jest.setTimeout(120_000);

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function billing(lifecycleId: string, overrides: Partial<Omit<BillingRecord, 'finalizedAt'>> = {}) {
  return {
    lifecycleId,
    workflowId: `wf-${lifecycleId}`,
    appId: '111111',
    taskId: 'task-1',
    userId: 'user-1',
    status: 'finalized' as const,
    startedAt: '2023-11-14T22:13:20.000Z',
    stoppedAt: '2023-11-14T22:23:20.000Z',
    billableSeconds: 1800.5,
    billableMinutes: 32,
    lines: [
      { tier: 'hd' as const, seconds: 600, minutes: 10, cost: 0.25 },
      { tier: 'fhd' as const, seconds: 1200.5, minutes: 21, cost: 12.6 },
      { tier: 'audio' as const, seconds: 1, minutes: 1, cost: 0.000123 },
    ],
    currency: 'CNY' as const,
    totalCost: 12.850123,
    ...overrides,
  };
}

function alert(key: string, overrides: Partial<AlertEntry> = {}): AlertEntry {
  return {
    key,
    kind: 'abnormal_stop',
    appId: '111111',
    taskId: 'task-1',
    userId: 'user-1',
    workflowId: 'wf-1',
    lifecycleId: 'lc-1',
    reason: 'stopped with StopReason 1',
    occurredAt: '2023-11-14T22:23:20.000Z',
    details: { stopReason: 1, nested: { list: [1, 'two', null] } },
    ...overrides,
  };
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe.each([postgresBackend(), embeddedBackend()])('store on $name', (backend) => {
  let db: Database;

  beforeAll(async () => {
    await backend.setup();
    db = await backend.open();
  });

  afterAll(async () => {
    await db?.close();
    await backend.teardown();
  });

  test('kind', () => {
    expect(db.kind).toBe(backend.name);
  });

  describe('migrations', () => {
    test('are recorded in schema_migrations, in order', async () => {
      const { rows } = await db.sql.query<{ version: number; name: string }>(
        'SELECT version::int AS version, name FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => ({ version: Number(r.version), name: r.name }))).toEqual(
        MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      );
      const tables = await db.sql.query<{ t: string }>(
        `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`,
      );
      expect(tables.rows.map((r) => r.t)).toEqual(
        expect.arrayContaining([
          'active_tasks',
          'alerts',
          'billing_amendments',
          'billing_ledger',
          'billing_lines',
          'callback_nonces',
          'schema_migrations',
        ]),
      );
    });

    test('are idempotent: a second run (and a reopen) applies nothing', async () => {
      const again = await runMigrations(db.sql as SqlClient);
      expect(again).toEqual({ applied: [], version: MIGRATIONS[MIGRATIONS.length - 1].version });
      if (backend.maxHandles > 1) {
        const other = await backend.open();
        await other.close();
      }
      const { rows } = await db.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(Number(rows[0].n)).toBe(MIGRATIONS.length);
    });

    test('apply only what is new; a renamed version is refused; unknown versions only warn', async () => {
      const extra = { version: 1000, name: 'test_extra', sql: 'CREATE TABLE test_extra (x int)' };
      const first = await runMigrations(db.sql as SqlClient, { migrations: [...MIGRATIONS, extra] });
      expect(first.applied).toEqual([1000]);
      await expect(
        runMigrations(db.sql as SqlClient, { migrations: [...MIGRATIONS, { ...extra, name: 'renamed' }] }),
      ).rejects.toThrow(/version 1000 as "test_extra".*"renamed"/);
      // a failing migration leaves no trace (transactional DDL)
      await expect(
        runMigrations(db.sql as SqlClient, {
          migrations: [
            ...MIGRATIONS,
            extra,
            { version: 1001, name: 'bad', sql: 'CREATE TABLE t1001 (x int); SELECT nope' },
          ],
        }),
      ).rejects.toThrow(/nope/);
      const t1001 = await db.sql.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 't1001'`);
      expect(t1001.rows).toHaveLength(0);

      const { logger, lines } = captureLogger();
      const result = await runMigrations(db.sql as SqlClient, { logger });
      expect(result.applied).toEqual([]);
      expect(lines).toContainEqual(expect.objectContaining({ level: 40, unknownVersions: [1000] }));
      await db.sql.query('DROP TABLE test_extra');
      await db.sql.query('DELETE FROM schema_migrations WHERE version = 1000');
    });
  });

  describe('billing ledger', () => {
    test('finalize writes once and returns the stored record, lines and money exact', async () => {
      const input = billing('lc-ledger-1');
      const first = await db.ledger.finalize(input);
      expect(first.inserted).toBe(true);
      expect(first.record).toEqual({
        ...input,
        finalizedAt: expect.stringMatching(ISO_MS),
        revision: 1,
        amendedAt: null,
      });
      expect(first.record.lines.map((l) => l.cost)).toEqual([0.25, 12.6, 0.000123]);
      expect(await db.ledger.get('lc-ledger-1')).toEqual(first.record);

      const second = await db.ledger.finalize(
        billing('lc-ledger-1', { totalCost: 99, lines: [{ tier: 'uhd', seconds: 1, minutes: 1, cost: 99 }] }),
      );
      expect(second).toEqual({ record: first.record, inserted: false });

      // stored as exact decimals, not floats
      const { rows } = await db.sql.query<{ tier: string; seconds: string; minutes: string; cost: string }>(
        `SELECT tier, seconds::text AS seconds, minutes::text AS minutes, cost::text AS cost
         FROM billing_lines WHERE lifecycle_id = $1 ORDER BY line_no`,
        ['lc-ledger-1'],
      );
      expect(rows).toEqual([
        { tier: 'hd', seconds: '600', minutes: '10', cost: '0.25' },
        { tier: 'fhd', seconds: '1200.5', minutes: '21', cost: '12.6' },
        { tier: 'audio', seconds: '1', minutes: '1', cost: '0.000123' },
      ]);
      const ledger = await db.sql.query<{ total: string; secs: string }>(
        `SELECT total_cost::text AS total, billable_seconds::text AS secs FROM billing_ledger WHERE lifecycle_id = $1`,
        ['lc-ledger-1'],
      );
      expect(ledger.rows).toEqual([{ total: '12.850123', secs: '1800.5' }]);
    });

    test('lines keep app, user and stop time for usage reports', async () => {
      await db.ledger.finalize(billing('lc-report', { appId: 'app-r', userId: 'user-r' }));
      const { rows } = await db.sql.query<{ app_id: string; user_id: string; day: string; cost: string }>(
        `SELECT app_id, user_id, to_char(stopped_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, sum(cost)::text AS cost
         FROM billing_lines WHERE app_id = 'app-r' GROUP BY 1, 2, 3`,
      );
      expect(rows).toEqual([{ app_id: 'app-r', user_id: 'user-r', day: '2023-11-14', cost: '12.850123' }]);
    });

    test('not billable: no lines, null start', async () => {
      const input = billing('lc-not-billable', {
        status: 'not_billable',
        startedAt: null,
        billableSeconds: 0,
        billableMinutes: 0,
        lines: [],
        totalCost: 0,
      });
      const { record, inserted } = await db.ledger.finalize(input);
      expect(inserted).toBe(true);
      expect(record).toEqual({
        ...input,
        finalizedAt: expect.stringMatching(ISO_MS),
        revision: 1,
        amendedAt: null,
      });
      expect((await db.ledger.finalize(input)).inserted).toBe(false);
    });

    test('get of an unknown lifecycle is null', async () => {
      expect(await db.ledger.get('lc-unknown')).toBeNull();
    });

    test('bad input is refused before anything is written', async () => {
      await expect(db.ledger.finalize(billing('lc-bad', { totalCost: Number.NaN }))).rejects.toThrow(
        TypeError,
      );
      await expect(
        db.ledger.finalize(billing('lc-bad', { lines: [{ tier: 'hd', seconds: 1, minutes: 1.5, cost: 1 }] })),
      ).rejects.toThrow(/minutes/);
      await expect(db.ledger.finalize(billing('lc-bad', { startedAt: 'yesterday' }))).rejects.toThrow(
        /startedAt/,
      );
      expect(await db.ledger.get('lc-bad')).toBeNull();
    });

    test('concurrent finalize of one lifecycle: exactly one row, every caller gets the same record', async () => {
      const extra: Database[] = [];
      for (let i = 1; i < backend.maxHandles; i++) extra.push(await backend.open());
      const handles = [db, ...extra];
      try {
        const calls = Array.from({ length: 12 }, (_, i) =>
          handles[i % handles.length].ledger.finalize(
            billing('lc-race', {
              totalCost: i + 1,
              lines: [{ tier: 'sd', seconds: 60 * (i + 1), minutes: i + 1, cost: i + 1 }],
            }),
          ),
        );
        const results = await Promise.all(calls);
        expect(results.filter((r) => r.inserted)).toHaveLength(1);
        const winner = results.find((r) => r.inserted)!.record;
        for (const r of results) expect(r.record).toEqual(winner);
        expect(winner.lines).toEqual([
          { tier: 'sd', seconds: 60 * winner.totalCost, minutes: winner.totalCost, cost: winner.totalCost },
        ]);
        const counts = await db.sql.query<{ ledger: number; lines: number }>(
          `SELECT (SELECT count(*) FROM billing_ledger WHERE lifecycle_id = 'lc-race')::int AS ledger,
                  (SELECT count(*) FROM billing_lines WHERE lifecycle_id = 'lc-race')::int AS lines`,
        );
        expect(counts.rows[0]).toEqual({ ledger: 1, lines: 1 });
      } finally {
        await Promise.all(extra.map((h) => h.close()));
      }
    });
  });

  describe('billing amendments', () => {
    const amendment = (lifecycleId: string, overrides: Partial<BillingAmendment> = {}): BillingAmendment => ({
      lifecycleId,
      reason: 'stale_stop',
      stoppedAt: '2023-11-15T08:00:00.000Z',
      billableSeconds: 36000,
      billableMinutes: 600,
      lines: [{ tier: 'sd', seconds: 36000, minutes: 600, cost: 7.2 }],
      totalCost: 7.2,
      ...overrides,
    });
    const linesOf = async (lifecycleId: string) =>
      (
        await db.sql.query<{ tier: string; day: string; cost: string }>(
          `SELECT tier, ${isoSql('stopped_at')} AS day, cost::text AS cost
           FROM billing_lines WHERE lifecycle_id = $1 ORDER BY line_no`,
          [lifecycleId],
        )
      ).rows;

    test('amend replaces stop, totals and lines once, bumps the revision and keeps what it replaced', async () => {
      const finalized = (await db.ledger.finalize(billing('lc-amend'))).record;
      const first = await db.ledger.amend(amendment('lc-amend'));
      expect(first).toEqual({
        kind: 'amended',
        record: {
          ...finalized,
          stoppedAt: '2023-11-15T08:00:00.000Z',
          billableSeconds: 36000,
          billableMinutes: 600,
          lines: [{ tier: 'sd', seconds: 36000, minutes: 600, cost: 7.2 }],
          totalCost: 7.2,
          revision: 2,
          amendedAt: expect.stringMatching(ISO_MS),
        },
      });
      // The lines carry the new stop time: usage reports count the lifecycle at its new stoppedAt.
      expect(await linesOf('lc-amend')).toEqual([
        { tier: 'sd', day: '2023-11-15T08:00:00.000Z', cost: '7.2' },
      ]);
      expect(await db.ledger.amendments('lc-amend')).toEqual([
        {
          lifecycleId: 'lc-amend',
          revision: 2,
          reason: 'stale_stop',
          amendedAt: expect.stringMatching(ISO_MS),
          previous: {
            startedAt: finalized.startedAt,
            stoppedAt: finalized.stoppedAt,
            billableSeconds: finalized.billableSeconds,
            billableMinutes: finalized.billableMinutes,
            totalCost: finalized.totalCost,
            lines: finalized.lines,
          },
        },
      ]);

      // A retry (even with other values) finds the amendment done; so does a late finalize.
      const repeat = await db.ledger.amend(amendment('lc-amend', { totalCost: 1, billableMinutes: 1 }));
      expect(repeat).toEqual({
        kind: 'already_amended',
        record: (first as { record: BillingRecord }).record,
      });
      expect(await db.ledger.finalize(billing('lc-amend'))).toEqual({
        record: (first as { record: BillingRecord }).record,
        inserted: false,
      });
      expect(await db.ledger.amendments('lc-amend')).toHaveLength(1);
    });

    test('nothing to amend: an unknown lifecycle, a not-billable row; bad input writes nothing', async () => {
      expect(await db.ledger.amend(amendment('lc-amend-unknown'))).toEqual({ kind: 'not_found' });
      await db.ledger.finalize(
        billing('lc-amend-nb', {
          status: 'not_billable',
          billableSeconds: 0,
          billableMinutes: 0,
          lines: [],
          totalCost: 0,
        }),
      );
      expect(await db.ledger.amend(amendment('lc-amend-nb'))).toEqual({ kind: 'not_billable' });
      expect(await db.ledger.amendments('lc-amend-nb')).toEqual([]);

      const finalized = (await db.ledger.finalize(billing('lc-amend-bad'))).record;
      await expect(db.ledger.amend(amendment('lc-amend-bad', { totalCost: Number.NaN }))).rejects.toThrow(
        /totalCost/,
      );
      for (const reason of [
        'whatever',
        'earlier_timestamp:0',
        'earlier_timestamp:',
        'earlier_timestamp:1x',
      ]) {
        await expect(
          db.ledger.amend(amendment('lc-amend-bad', { reason: reason as BillingAmendment['reason'] })),
        ).rejects.toThrow(/reason/);
      }
      await expect(db.ledger.amend(amendment('lc-amend-bad', { startedAt: 'yesterday' }))).rejects.toThrow(
        /startedAt/,
      );
      expect(await db.ledger.get('lc-amend-bad')).toEqual(finalized);
    });

    test('numbered reasons amend once each, moving the start when given; the audit keeps each previous row', async () => {
      const finalized = (await db.ledger.finalize(billing('lc-amend-n'))).record;
      const earlierStart = new Date(Date.parse(finalized.startedAt!) - 2000).toISOString();
      const first = await db.ledger.amend(
        amendment('lc-amend-n', {
          reason: 'earlier_timestamp:1',
          startedAt: earlierStart,
          stoppedAt: finalized.stoppedAt,
          billableSeconds: 36002,
          billableMinutes: 601,
        }),
      );
      expect(first).toMatchObject({
        kind: 'amended',
        record: {
          startedAt: earlierStart,
          stoppedAt: finalized.stoppedAt,
          billableSeconds: 36002,
          revision: 2,
        },
      });
      // The retry of the first finds it done; the second reason amends again, keeping the start.
      expect((await db.ledger.amend(amendment('lc-amend-n', { reason: 'earlier_timestamp:1' }))).kind).toBe(
        'already_amended',
      );
      const second = await db.ledger.amend(
        amendment('lc-amend-n', {
          reason: 'earlier_timestamp:2',
          billableSeconds: 36003,
          billableMinutes: 601,
        }),
      );
      expect(second).toMatchObject({
        kind: 'amended',
        record: {
          startedAt: earlierStart,
          stoppedAt: '2023-11-15T08:00:00.000Z',
          billableSeconds: 36003,
          revision: 3,
        },
      });
      expect(
        (await db.ledger.amendments('lc-amend-n')).map((a) => [a.revision, a.reason, a.previous]),
      ).toEqual([
        [
          2,
          'earlier_timestamp:1',
          expect.objectContaining({
            startedAt: finalized.startedAt,
            billableSeconds: finalized.billableSeconds,
          }),
        ],
        [
          3,
          'earlier_timestamp:2',
          expect.objectContaining({ startedAt: earlierStart, billableSeconds: 36002 }),
        ],
      ]);
    });

    test('an amendment that fails part-way (a crash mid-transaction) leaves no trace; the retry amends', async () => {
      const finalized = (await db.ledger.finalize(billing('lc-amend-crash'))).record;
      // The last step fails, after the audit row and the ledger update were written.
      await db.sql.query(`
        CREATE FUNCTION fail_amend() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'worker died mid-amendment'; END $$`);
      await db.sql.query(`
        CREATE TRIGGER fail_amend BEFORE INSERT ON billing_lines FOR EACH ROW
        WHEN (NEW.lifecycle_id = 'lc-amend-crash') EXECUTE FUNCTION fail_amend()`);
      try {
        await expect(db.ledger.amend(amendment('lc-amend-crash'))).rejects.toThrow(/mid-amendment/);
      } finally {
        await db.sql.query('DROP TRIGGER fail_amend ON billing_lines');
        await db.sql.query('DROP FUNCTION fail_amend()');
      }
      expect(await db.ledger.get('lc-amend-crash')).toEqual(finalized);
      expect(await db.ledger.amendments('lc-amend-crash')).toEqual([]);
      expect((await db.ledger.amend(amendment('lc-amend-crash'))).kind).toBe('amended');
      expect((await db.ledger.get('lc-amend-crash'))?.revision).toBe(2);
    });

    test('concurrent amendments of one lifecycle: one amends, every caller gets the same record', async () => {
      await db.ledger.finalize(billing('lc-amend-race'));
      const extra: Database[] = [];
      for (let i = 1; i < backend.maxHandles; i++) extra.push(await backend.open());
      const handles = [db, ...extra];
      try {
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            handles[i % handles.length].ledger.amend(
              amendment('lc-amend-race', {
                totalCost: i + 1,
                lines: [{ tier: 'sd', seconds: 60, minutes: 1, cost: i + 1 }],
              }),
            ),
          ),
        );
        expect(results.filter((r) => r.kind === 'amended')).toHaveLength(1);
        expect(results.filter((r) => r.kind === 'already_amended')).toHaveLength(11);
        const records = results.map((r) => (r as { record: BillingRecord }).record);
        for (const r of records) expect(r).toEqual(records[0]);
        expect(records[0].revision).toBe(2);
        expect(await db.ledger.amendments('lc-amend-race')).toHaveLength(1);
        expect(await linesOf('lc-amend-race')).toHaveLength(1);
      } finally {
        await Promise.all(extra.map((h) => h.close()));
      }
    });
  });

  describe('alert log', () => {
    test('record is insert-once by key', async () => {
      const entry = alert('alert-1');
      const first = await db.alerts.record(entry);
      expect(first.inserted).toBe(true);
      expect(first.alert).toEqual({
        ...entry,
        createdAt: expect.stringMatching(ISO_MS),
        delivery: 'pending',
        deliveredAt: null,
        deliveryError: null,
        resolvedAt: null,
        resolution: null,
        resolutionDelivery: null,
        resolutionDeliveredAt: null,
        resolutionDeliveryError: null,
      });
      const again = await db.alerts.record(
        alert('alert-1', { reason: 'something else', details: undefined }),
      );
      expect(again).toEqual({ alert: first.alert, inserted: false });
    });

    test('concurrent records of one key insert one row', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          db.alerts.record(alert('alert-race', { reason: `attempt ${i}` })),
        ),
      );
      expect(results.filter((r) => r.inserted)).toHaveLength(1);
      for (const r of results) expect(r.alert).toEqual(results[0].alert);
    });

    test('an alert without details has none', async () => {
      const { alert: stored } = await db.alerts.record(alert('alert-no-details', { details: undefined }));
      expect(stored).not.toHaveProperty('details');
    });

    test('markDelivery: failed → delivered; delivered is final; unknown key throws', async () => {
      await db.alerts.record(alert('alert-deliver', { taskId: 'task-deliver' }));
      const get = async () => (await db.alerts.list({ taskId: 'task-deliver' }))[0];

      await db.alerts.markDelivery('alert-deliver', 'failed', 'HTTP 500');
      expect(await get()).toMatchObject({ delivery: 'failed', deliveryError: 'HTTP 500', deliveredAt: null });

      await db.alerts.markDelivery('alert-deliver', 'delivered');
      const delivered = await get();
      expect(delivered).toMatchObject({ delivery: 'delivered', deliveryError: null });
      expect(delivered.deliveredAt).toMatch(ISO_MS);

      await db.alerts.markDelivery('alert-deliver', 'failed', 'late failure');
      expect(await get()).toEqual(delivered);

      await db.alerts.record(alert('alert-nc', { taskId: 'task-nc' }));
      await db.alerts.markDelivery('alert-nc', 'not_configured');
      expect((await db.alerts.list({ taskId: 'task-nc' }))[0]).toMatchObject({
        delivery: 'not_configured',
        deliveredAt: null,
        deliveryError: null,
      });

      await expect(db.alerts.markDelivery('alert-missing', 'delivered')).rejects.toThrow(/alert-missing/);
    });

    test('resolve: the first resolution wins; its all-clear has a delivery status of its own', async () => {
      await db.alerts.record(alert('alert-resolve', { taskId: 'task-resolve', kind: 'stale_task' }));
      const get = async () => (await db.alerts.get('alert-resolve'))!;
      await expect(
        db.alerts.markDelivery('alert-resolve', 'delivered', undefined, 'resolution'),
      ).rejects.toThrow(/no resolved alert/);

      expect(
        await db.alerts.resolve('alert-resolve', 'the task stopped', '2023-11-15T08:00:00.000Z'),
      ).toEqual({
        resolved: true,
      });
      expect(await get()).toMatchObject({
        resolvedAt: '2023-11-15T08:00:00.000Z',
        resolution: 'the task stopped',
        resolutionDelivery: 'pending',
        resolutionDeliveredAt: null,
        resolutionDeliveryError: null,
        delivery: 'pending',
      });
      expect(await db.alerts.resolve('alert-resolve', 'something else', '2023-11-16T00:00:00.000Z')).toEqual({
        resolved: false,
      });
      expect(await get()).toMatchObject({
        resolvedAt: '2023-11-15T08:00:00.000Z',
        resolution: 'the task stopped',
      });

      await db.alerts.markDelivery('alert-resolve', 'failed', 'HTTP 503', 'resolution');
      expect(await get()).toMatchObject({
        resolutionDelivery: 'failed',
        resolutionDeliveryError: 'HTTP 503',
      });
      await db.alerts.markDelivery('alert-resolve', 'delivered', undefined, 'resolution');
      await db.alerts.markDelivery('alert-resolve', 'failed', 'late failure', 'resolution');
      const resolved = await get();
      expect(resolved).toMatchObject({ resolutionDelivery: 'delivered', resolutionDeliveryError: null });
      expect(resolved.resolutionDeliveredAt).toMatch(ISO_MS);
      // The alert's own delivery is untouched by its all-clear's.
      expect(resolved).toMatchObject({ delivery: 'pending', deliveredAt: null });

      await expect(db.alerts.resolve('alert-unknown', 'x', '2023-11-15T08:00:00.000Z')).rejects.toThrow(
        /alert-unknown/,
      );
      await expect(db.alerts.resolve('alert-resolve', '', '2023-11-15T08:00:00.000Z')).rejects.toThrow(
        TypeError,
      );
      await expect(db.alerts.resolve('alert-resolve', 'x', 'later')).rejects.toThrow(/resolvedAt/);
    });

    test('concurrent resolutions of one alert: exactly one resolves', async () => {
      await db.alerts.record(alert('alert-resolve-race'));
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          db.alerts.resolve('alert-resolve-race', `resolution ${i}`, '2023-11-15T08:00:00.000Z'),
        ),
      );
      expect(results.filter((r) => r.resolved)).toHaveLength(1);
      const winner = results.findIndex((r) => r.resolved);
      expect((await db.alerts.get('alert-resolve-race'))?.resolution).toBe(`resolution ${winner}`);
    });

    test('list filters by app, task and kind, ordered by occurrence', async () => {
      const app = 'app-list';
      await db.alerts.record(
        alert('l-3', {
          appId: app,
          taskId: 't1',
          kind: 'stale_task',
          occurredAt: '2024-01-03T00:00:00.000Z',
        }),
      );
      await db.alerts.record(
        alert('l-1', {
          appId: app,
          taskId: 't1',
          kind: 'abnormal_stop',
          occurredAt: '2024-01-01T00:00:00.000Z',
        }),
      );
      await db.alerts.record(
        alert('l-2', {
          appId: app,
          taskId: 't2',
          kind: 'orphaned_stop',
          occurredAt: '2024-01-02T00:00:00.000Z',
        }),
      );
      await db.alerts.record(alert('l-other', { appId: 'app-other', taskId: 't1', kind: 'stale_task' }));

      const keys = (list: Array<{ key: string }>) => list.map((a) => a.key);
      expect(keys(await db.alerts.list({ appId: app }))).toEqual(['l-1', 'l-2', 'l-3']);
      expect(keys(await db.alerts.list({ appId: app, taskId: 't1' }))).toEqual(['l-1', 'l-3']);
      expect(keys(await db.alerts.list({ appId: app, kind: 'stale_task' }))).toEqual(['l-3']);
      expect(keys(await db.alerts.list({ kind: 'stale_task', taskId: 't1' }))).toEqual(
        expect.arrayContaining(['l-3', 'l-other']),
      );
      expect(keys(await db.alerts.list({ appId: 'app-none' }))).toEqual([]);
      const all = keys(await db.alerts.list());
      expect(all).toEqual(expect.arrayContaining(['l-1', 'l-2', 'l-3', 'l-other', 'alert-1']));
    });
  });

  describe('active-task registry', () => {
    const task = {
      appId: 'app-reg',
      taskId: 'task-reg',
      userId: 'user-reg',
      workflowId: 'wf-reg',
      lifecycleId: 'lc-reg-1',
      startedAt: '2023-11-14T22:13:20.000Z',
      input: { StreamId: 'in-1', StreamUrl: 'rtmp://example/in' },
      outputs: [{ StreamId: 'out-1', Width: 1280, Height: 720, VideoBitrate: 0 }],
    };

    test('register, refresh, list', async () => {
      await db.registry.register(task);
      const [row] = await db.registry.list({ appId: 'app-reg' });
      expect(row).toEqual({ ...task, registeredAt: expect.stringMatching(ISO_MS) });

      const outputs = [{ StreamId: 'out-2', Width: 1920, Height: 1080 }];
      await db.registry.register({ ...task, outputs });
      const refreshed = await db.registry.list({ appId: 'app-reg' });
      expect(refreshed).toEqual([{ ...task, outputs, registeredAt: row.registeredAt }]);

      await db.registry.register({
        ...task,
        taskId: 'task-reg-2',
        lifecycleId: 'lc-x',
        input: null,
        outputs: [],
        startedAt: null,
      });
      await db.registry.register({ ...task, appId: 'app-reg-other' });
      expect((await db.registry.list({ appId: 'app-reg' })).map((t) => t.taskId)).toEqual([
        'task-reg',
        'task-reg-2',
      ]);
      expect((await db.registry.list({ appId: 'app-reg' }))[1]).toMatchObject({
        input: null,
        outputs: [],
        startedAt: null,
      });
      expect((await db.registry.list()).map((t) => `${t.appId}/${t.taskId}`)).toEqual(
        expect.arrayContaining(['app-reg/task-reg', 'app-reg/task-reg-2', 'app-reg-other/task-reg']),
      );
    });

    test('remove deletes only the row of its own lifecycle', async () => {
      await db.registry.register({ ...task, taskId: 'task-rm', lifecycleId: 'lc-old' });
      await db.registry.register({ ...task, taskId: 'task-rm', lifecycleId: 'lc-new' });
      expect(await db.registry.remove('app-reg', 'task-rm', 'lc-old')).toBe(false);
      expect(
        (await db.registry.list({ appId: 'app-reg' })).find((t) => t.taskId === 'task-rm'),
      ).toMatchObject({
        lifecycleId: 'lc-new',
      });
      expect(await db.registry.remove('app-reg', 'task-rm', 'lc-new')).toBe(true);
      expect(await db.registry.remove('app-reg', 'task-rm', 'lc-new')).toBe(false);
      expect((await db.registry.list({ appId: 'app-reg' })).some((t) => t.taskId === 'task-rm')).toBe(false);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// nonce stores: one table of calls and answers, every implementation

const T0 = Date.parse('2024-05-01T12:00:00.000Z');

type NonceStep =
  | { at: number; bind: [key: string, fingerprint: string, expiresAtMs: number]; expect: NonceBinding }
  | { at: number; sweep: number };

const NONCE_STEPS: NonceStep[] = [
  { at: T0, bind: ['k1', 'fp-a', T0 + 1000], expect: 'new' },
  { at: T0, bind: ['k1', 'fp-a', T0 + 1000], expect: 'same' },
  { at: T0 + 10, bind: ['k1', 'fp-b', T0 + 1000], expect: 'conflict' },
  { at: T0 + 10, bind: ['k2', 'fp-b', T0 + 1000], expect: 'new' },
  { at: T0 + 999, bind: ['k1', 'fp-a', T0 + 9999], expect: 'same' },
  // expired (expires_at <= now): the key may be bound again, to any body
  { at: T0 + 1000, bind: ['k1', 'fp-b', T0 + 5000], expect: 'new' },
  { at: T0 + 1000, bind: ['k1', 'fp-a', T0 + 5000], expect: 'conflict' },
  { at: T0 + 1000, bind: ['k1', 'fp-b', T0 + 5000], expect: 'same' },
  // a binding that is already expired when made binds nothing lasting
  { at: T0 + 1000, bind: ['k3', 'fp-a', T0 - 1], expect: 'new' },
  { at: T0 + 1000, bind: ['k3', 'fp-b', T0 + 3000], expect: 'new' },
  { at: T0 + 1000, bind: ['k4', 'fp-a', T0 + 2000], expect: 'new' },
  // sweep at T0+2000 removes k2 (T0+1000) and k4 (T0+2000), keeps k1 (T0+5000) and k3 (T0+3000)
  { at: T0 + 2000, sweep: 2 },
  { at: T0 + 2000, bind: ['k2', 'fp-z', T0 + 3000], expect: 'new' },
  { at: T0 + 2000, bind: ['k1', 'fp-z', T0 + 3000], expect: 'conflict' },
  { at: T0 + 2000, bind: ['k3', 'fp-b', T0 + 3000], expect: 'same' },
  { at: T0 + 10_000, sweep: 3 },
];

interface NonceImpl {
  name: string;
  create(now: () => number): Promise<NonceStore & { sweep(): Promise<number> | number }>;
}

describe('nonce stores', () => {
  let testDb: TestDatabase;
  let embeddedDir: string;
  let embedded: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    embeddedDir = await mkdtemp(path.join(tmpdir(), 'store-nonce-pglite-'));
    embedded = await openDatabase({ dataDir: embeddedDir });
  });

  afterAll(async () => {
    await embedded?.close();
    await testDb?.drop();
    if (embeddedDir) await rm(embeddedDir, { recursive: true, force: true });
  });

  const impls: NonceImpl[] = [
    { name: 'memory', create: async (now) => new MemoryNonceStore({ now }) },
    {
      name: 'postgres',
      create: async (now) => (await createNonceStore({ databaseUrl: testDb.url, now })) as PostgresNonceStore,
    },
    { name: 'embedded (PGlite)', create: async (now) => new PostgresNonceStore(embedded.sql, { now }) },
  ];

  describe.each(impls)('$name', (impl) => {
    test('answers the shared table of calls', async () => {
      let now = 0;
      const store = await impl.create(() => now);
      try {
        // keys unique per implementation run (the PostgreSQL ones share one table)
        const prefix = `${impl.name}-${Math.random().toString(36).slice(2)}-`;
        const answers: Array<NonceBinding | number> = [];
        for (const step of NONCE_STEPS) {
          now = step.at;
          if ('bind' in step) {
            const [key, fp, exp] = step.bind;
            answers.push(await store.bind(prefix + key, fp, exp));
          } else {
            answers.push(await store.sweep());
          }
        }
        expect(answers).toEqual(NONCE_STEPS.map((s) => ('bind' in s ? s.expect : s.sweep)));
      } finally {
        await store.close();
      }
      await expect(store.bind('after-close', 'fp', T0)).rejects.toThrow(/closed/);
    });

    test('concurrent binds of one key: one new, the rest same or conflict', async () => {
      const stores = [await impl.create(Date.now)];
      // PostgreSQL: several stores (pools), as several server replicas would have
      if (impl.name === 'postgres') stores.push(await impl.create(Date.now), await impl.create(Date.now));
      try {
        const key = `race-${impl.name}-${Math.random()}`;
        const exp = Date.now() + 60_000;
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            stores[i % stores.length].bind(key, i % 2 ? 'odd' : 'even', exp),
          ),
        );
        expect(answers.filter((a) => a === 'new')).toHaveLength(1);
        const winner = answers.indexOf('new') % 2 ? 'odd' : 'even';
        answers.forEach((a, i) => {
          if (a !== 'new') expect(a).toBe((i % 2 ? 'odd' : 'even') === winner ? 'same' : 'conflict');
        });
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });

  test('the periodic sweep deletes expired bindings (memory and PostgreSQL)', async () => {
    const memory = new MemoryNonceStore({ sweepIntervalMs: 20 });
    const pg = await createNonceStore({ databaseUrl: testDb.url, sweepIntervalMs: 20 });
    const probe = new Pool({ connectionString: testDb.url, max: 1 });
    try {
      const key = `sweep-${Math.random()}`;
      await memory.bind(key, 'fp', Date.now() + 50);
      await pg.bind(key, 'fp', Date.now() + 50);
      expect(memory.size).toBe(1);
      const count = async () => {
        const { rows } = await probe.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM callback_nonces WHERE key = $1',
          [key],
        );
        return Number(rows[0].n);
      };
      expect(await count()).toBe(1);
      const deadline = Date.now() + 5000;
      while ((memory.size > 0 || (await count()) > 0) && Date.now() < deadline) {
        await sleep(50);
      }
      expect(memory.size).toBe(0);
      expect(await count()).toBe(0);
    } finally {
      await memory.close();
      await pg.close();
      await probe.end();
    }
  });

  test('createNonceStore without a URL is in memory', async () => {
    const store = await createNonceStore({});
    try {
      expect(store).toBeInstanceOf(MemoryNonceStore);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL specifics

describe('PostgreSQL specifics', () => {
  test('three replicas opening one fresh database at once migrate it exactly once', async () => {
    const fresh = await createTestDatabase();
    const opened: Database[] = [];
    try {
      const { logger, lines } = captureLogger();
      const results = await Promise.allSettled(
        [1, 2, 3].map(() => openDatabase({ databaseUrl: fresh.url, dataDir: '/unused', logger })),
      );
      for (const r of results) if (r.status === 'fulfilled') opened.push(r.value);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      const applied = lines.filter((l) => l.msg === 'database migrations applied');
      expect(applied).toHaveLength(1);
      expect(applied[0].applied).toEqual(MIGRATIONS.map((m) => m.version));
      const { rows } = await opened[0].sql.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM schema_migrations',
      );
      expect(Number(rows[0].n)).toBe(MIGRATIONS.length);
      // and a nonce store on the same database finds it migrated
      const nonces = await createNonceStore({ databaseUrl: fresh.url });
      await nonces.close();
    } finally {
      await Promise.all(opened.map((d) => d.close()));
      await fresh.drop();
    }
  });

  test('connection errors name DATABASE_URL without the password', async () => {
    const url = 'postgres://zego:s3cret-pw@127.0.0.1:1/nowhere';
    for (const attempt of [
      () => openDatabase({ databaseUrl: url, dataDir: '/unused' }),
      () => createNonceStore({ databaseUrl: url }),
    ]) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toContain('DATABASE_URL=postgres://zego:***@127.0.0.1:1/nowhere');
      expect(err!.message).toMatch(/ECONNREFUSED|connect/);
      expect(err!.message).not.toContain('s3cret');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// PGlite specifics

describe('embedded (PGlite) specifics', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'store-pglite-persist-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('data survives close and reopen of the same directory', async () => {
    const first = await openDatabase({ dataDir: dir });
    const { record } = await first.ledger.finalize(billing('lc-persist'));
    await first.alerts.record(alert('persist-alert'));
    await first.registry.register({
      appId: 'a',
      taskId: 't',
      userId: 'u',
      workflowId: 'w',
      lifecycleId: 'l',
      startedAt: null,
      input: null,
      outputs: [],
    });
    await first.close();
    await first.close(); // idempotent

    const { logger, lines } = captureLogger();
    const second = await openDatabase({ dataDir: dir, logger });
    try {
      expect(await second.ledger.get('lc-persist')).toEqual(record);
      expect((await second.alerts.list()).map((a) => a.key)).toEqual(['persist-alert']);
      expect(await second.registry.list()).toHaveLength(1);
      expect(lines.some((l) => l.msg === 'database migrations applied')).toBe(false);
    } finally {
      await second.close();
    }
  });

  test('one open per directory: a second open is refused until the first closes', async () => {
    const first = await openDatabase({ dataDir: dir });
    try {
      await expect(openDatabase({ dataDir: dir })).rejects.toThrow(/already open in this process/);
    } finally {
      await first.close();
    }
    const again = await openDatabase({ dataDir: dir });
    await again.close();
  });

  test('a lock left by a process that is gone is taken over; a live one is refused', async () => {
    await writeFile(path.join(dir, 'pglite.lock'), '2147483646\n');
    const db = await openDatabase({ dataDir: dir });
    await db.close();

    // pid 1 is always alive
    await writeFile(path.join(dir, 'pglite.lock'), '1\n');
    await expect(openDatabase({ dataDir: dir })).rejects.toThrow(/in use by process 1.*DATABASE_URL/);
  });
});
