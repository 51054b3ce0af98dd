/**
 * Usage reports over a ledger with known contents (written through the store's own
 * `ledger.finalize`), on PostgreSQL and on PGlite: directly through `usageReport` and through
 * `GET /usage` of a test service whose HTTP server reads the worker's database. Covers the
 * boundaries: `stopped_at` decides, `from` inclusive, `to` exclusive, UTC days (a lifecycle
 * stopping exactly at midnight belongs to the day that begins then).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadServerConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startHttpService } from '../../src/main/services';
import { openDatabase } from '../../src/store';
import type { BillingRecord, Database, NewBillingRecord } from '../../src/store/types';
import { usageReport, type UsageQuery, type UsageReport } from '../../src/store/usage';
import { temporalConnectConfig } from '../../src/temporal/connection';
import type { BillingLine } from '../../src/zego/billing-types';
import { createTestDatabase, type TestDatabase } from '../../tools/postgres/test-database';
import { startTestService, TEST_ENV, type DatabaseKind, type TestService } from '../helpers/service';

type Line = BillingLine;
const line = (tier: Line['tier'], seconds: number, minutes: number, cost: number): Line => ({
  tier,
  seconds,
  minutes,
  cost,
});

/** A ledger with known contents; app ids are unique per call so nothing else interferes. */
function fixtures() {
  const appA = String(100000 + Math.floor(Math.random() * 899999));
  const appB = `${appA}9`;
  const run = randomUUID().slice(0, 8);
  const rec = (
    n: number,
    appId: string,
    userId: string,
    stoppedAt: string,
    lines: Line[],
    status: BillingRecord['status'] = 'finalized',
  ): NewBillingRecord => ({
    lifecycleId: `usage-${run}-${n}`,
    workflowId: `wf-${run}-${n}`,
    appId,
    taskId: `task-${n}`,
    userId,
    status,
    startedAt: new Date(Date.parse(stoppedAt) - 600_000).toISOString(),
    stoppedAt,
    billableSeconds: lines.reduce((s, l) => s + l.seconds, 0),
    billableMinutes: lines.reduce((s, l) => s + l.minutes, 0),
    lines,
    currency: 'CNY',
    totalCost: lines.reduce((s, l) => s + l.cost, 0),
  });
  const records = [
    rec(1, appA, 'u1', '2024-03-01T10:00:00.000Z', [line('hd', 600, 10, 0.25)]),
    rec(2, appA, 'u2', '2024-03-01T23:59:59.999Z', [line('hd', 61, 2, 0.05), line('fhd', 61, 2, 0.196)]),
    // Exactly at a UTC midnight: belongs to 2024-03-02.
    rec(3, appA, 'u1', '2024-03-02T00:00:00.000Z', [line('sd', 120, 2, 0.024)]),
    rec(4, appA, 'u1', '2024-03-03T12:00:00.000Z', [line('hd', 30, 1, 0.025), line('audio', 90, 2, 0.014)]),
    // An orphaned stop: in the ledger, but nothing billable.
    rec(5, appA, 'u3', '2024-03-01T12:00:00.000Z', [], 'not_billable'),
    // Another app, same day.
    rec(6, appB, 'u1', '2024-03-01T10:00:00.000Z', [line('hd', 600, 10, 0.25)]),
    // Before the range, and exactly at its (exclusive) end.
    rec(7, appA, 'u2', '2024-02-29T23:59:59.000Z', [line('hd', 60, 1, 0.025)]),
    rec(8, appA, 'u2', '2024-03-04T00:00:00.000Z', [line('uhd', 60, 1, 0.098)]),
    // Stopped with a non-UTC offset in the input; stored as the same instant (2024-03-03T01:30Z).
    rec(9, appA, 'u2', '2024-03-03T09:30:00.000+08:00', [line('sd', 59.5, 1, 0.012)]),
  ];
  return { appA, appB, records };
}

async function load(db: Database, records: NewBillingRecord[]): Promise<void> {
  for (const r of records) {
    const { inserted } = await db.ledger.finalize(r);
    expect(inserted).toBe(true);
  }
}

const amounts = (seconds: number, minutes: number, cost: number, lifecycles: number) => ({
  seconds,
  minutes,
  cost,
  lifecycles,
});

/** Expected report of appA over [2024-03-01, 2024-03-04) by day. */
function expectedByDay() {
  return {
    currency: 'CNY',
    rows: [
      { group: '2024-03-01', tier: 'hd', ...amounts(661, 12, 0.3, 2) },
      { group: '2024-03-01', tier: 'fhd', ...amounts(61, 2, 0.196, 1) },
      { group: '2024-03-02', tier: 'sd', ...amounts(120, 2, 0.024, 1) },
      { group: '2024-03-03', tier: 'audio', ...amounts(90, 2, 0.014, 1) },
      { group: '2024-03-03', tier: 'sd', ...amounts(59.5, 1, 0.012, 1) },
      { group: '2024-03-03', tier: 'hd', ...amounts(30, 1, 0.025, 1) },
    ],
    totals: {
      ...amounts(1021.5, 20, 0.571, 5),
      byTier: {
        audio: amounts(90, 2, 0.014, 1),
        sd: amounts(179.5, 3, 0.036, 2),
        hd: amounts(691, 13, 0.325, 3),
        fhd: amounts(61, 2, 0.196, 1),
      },
    },
  };
}

function expectedByUser() {
  return {
    currency: 'CNY',
    rows: [
      { group: 'u1', tier: 'audio', ...amounts(90, 2, 0.014, 1) },
      { group: 'u1', tier: 'sd', ...amounts(120, 2, 0.024, 1) },
      { group: 'u1', tier: 'hd', ...amounts(630, 11, 0.275, 2) },
      { group: 'u2', tier: 'sd', ...amounts(59.5, 1, 0.012, 1) },
      { group: 'u2', tier: 'hd', ...amounts(61, 2, 0.05, 1) },
      { group: 'u2', tier: 'fhd', ...amounts(61, 2, 0.196, 1) },
    ],
    totals: expectedByDay().totals,
  };
}

const day = (d: string) => new Date(`${d}T00:00:00.000Z`);

interface Backend {
  kind: DatabaseKind;
  open(): Promise<{ db: Database; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    kind: 'postgres',
    async open() {
      const fresh: TestDatabase = await createTestDatabase();
      const db = await openDatabase({ databaseUrl: fresh.url, dataDir: '' });
      return {
        db,
        async cleanup() {
          await db.close();
          await fresh.drop();
        },
      };
    },
  },
  {
    kind: 'embedded',
    async open() {
      const dir = await mkdtemp(path.join(tmpdir(), 'usage-pglite-'));
      const db = await openDatabase({ dataDir: dir });
      return {
        db,
        async cleanup() {
          await db.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

describe.each(backends)('usage reports on $kind', (backend) => {
  describe('usageReport', () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    const { appA, appB, records } = fixtures();
    const report = (q: Partial<UsageQuery>): Promise<UsageReport> =>
      usageReport(db.sql, {
        appId: appA,
        from: day('2024-03-01'),
        to: day('2024-03-04'),
        groupBy: 'day',
        ...q,
      });

    beforeAll(async () => {
      ({ db, cleanup } = await backend.open());
      await load(db, records);
    });
    afterAll(async () => {
      await cleanup?.();
    });

    test('by day: UTC days of stopped_at, per tier, with totals', async () => {
      expect(await report({})).toEqual(expectedByDay());
    });

    test('by user', async () => {
      expect(await report({ groupBy: 'user' })).toEqual(expectedByUser());
    });

    test('a lifecycle stopping exactly at midnight counts in the range that starts then, not the one ending then', async () => {
      const first = await report({ from: day('2024-03-01'), to: day('2024-03-02') });
      expect(first.rows.map((r) => [r.group, r.tier, r.lifecycles])).toEqual([
        ['2024-03-01', 'hd', 2],
        ['2024-03-01', 'fhd', 1],
      ]);
      const second = await report({ from: day('2024-03-02'), to: day('2024-03-03') });
      expect(second.rows).toEqual([{ group: '2024-03-02', tier: 'sd', ...amounts(120, 2, 0.024, 1) }]);
      expect(second.totals).toEqual({
        ...amounts(120, 2, 0.024, 1),
        byTier: { sd: amounts(120, 2, 0.024, 1) },
      });
    });

    test('`to` is exclusive and `from` inclusive to the millisecond', async () => {
      const end = await report({ from: day('2024-03-03'), to: day('2024-03-04') });
      expect(end.rows.some((r) => r.tier === 'uhd')).toBe(false);
      const withEnd = await report({ from: day('2024-03-03'), to: new Date('2024-03-04T00:00:00.001Z') });
      expect(withEnd.rows.filter((r) => r.tier === 'uhd')).toEqual([
        { group: '2024-03-04', tier: 'uhd', ...amounts(60, 1, 0.098, 1) },
      ]);
      const lastMs = await report({
        from: new Date('2024-03-01T23:59:59.999Z'),
        to: new Date('2024-03-02T00:00:00.000Z'),
      });
      expect(lastMs.totals.lifecycles).toBe(1);
      expect(lastMs.totals.byTier).toEqual({ hd: amounts(61, 2, 0.05, 1), fhd: amounts(61, 2, 0.196, 1) });
    });

    test('other apps, not_billable rows and empty ranges', async () => {
      const b = await report({ appId: appB });
      expect(b.rows).toEqual([{ group: '2024-03-01', tier: 'hd', ...amounts(600, 10, 0.25, 1) }]);
      const empty = await report({ from: day('2025-01-01'), to: day('2025-01-02') });
      expect(empty).toEqual({ currency: 'CNY', rows: [], totals: { ...amounts(0, 0, 0, 0), byTier: {} } });
      const unknown = await report({ appId: 'no-such-app' });
      expect(unknown.rows).toEqual([]);
      // u3's orphaned stop is in the ledger but never in a report.
      expect((await report({ groupBy: 'user' })).rows.some((r) => r.group === 'u3')).toBe(false);
    });

    test('an amended lifecycle (a stale task’s own stop) counts once, at its new stoppedAt', async () => {
      const appC = `${appA}7`;
      const stale = { ...records[0], lifecycleId: `${records[0].lifecycleId}-amended`, appId: appC };
      await load(db, [stale]);
      const before = await report({ appId: appC });
      expect(before.rows).toEqual([{ group: '2024-03-01', tier: 'hd', ...amounts(600, 10, 0.25, 1) }]);
      const amended = await db.ledger.amend({
        lifecycleId: stale.lifecycleId,
        reason: 'stale_stop',
        stoppedAt: '2024-03-02T10:00:00.000Z',
        billableSeconds: 87000,
        billableMinutes: 1450,
        lines: [line('hd', 87000, 1450, 36.25)],
        totalCost: 36.25,
      });
      expect(amended.kind).toBe('amended');
      const after = await report({ appId: appC });
      expect(after.rows).toEqual([{ group: '2024-03-02', tier: 'hd', ...amounts(87000, 1450, 36.25, 1) }]);
      expect(after.totals.lifecycles).toBe(1);
    });

    test('rejects a malformed query', async () => {
      await expect(report({ appId: '' })).rejects.toThrow(/appId/);
      await expect(report({ from: day('2024-03-04'), to: day('2024-03-01') })).rejects.toThrow(/before/);
      await expect(report({ from: new Date('nope') })).rejects.toThrow(/from/);
      await expect(report({ groupBy: 'tier' as 'day' })).rejects.toThrow(/groupBy/);
    });
  });

  describe('GET /usage', () => {
    let svc: TestService;
    const { appA, records } = fixtures();

    beforeAll(async () => {
      svc = await startTestService({ database: backend.kind, withoutWorker: true });
      await load(svc.db, records);
    });
    afterAll(async () => {
      await svc?.stop();
    });

    test('by day (default) and by user, echoing the normalized query', async () => {
      const byDay = await svc.get(`/usage?appId=${appA}&from=2024-03-01&to=2024-03-04`);
      expect(byDay.status).toBe(200);
      expect(byDay.json).toEqual({
        ok: true,
        appId: appA,
        from: '2024-03-01T00:00:00.000Z',
        to: '2024-03-04T00:00:00.000Z',
        groupBy: 'day',
        ...expectedByDay(),
      });
      const byUser = await svc.get(
        `/usage?appId=${appA}&from=2024-03-01T00:00:00Z&to=2024-03-04T08:00:00%2B08:00&groupBy=user`,
      );
      expect(byUser.status).toBe(200);
      expect(byUser.json).toMatchObject({
        to: '2024-03-04T00:00:00.000Z',
        groupBy: 'user',
        ...expectedByUser(),
      });
    });

    test('the midnight boundary through HTTP', async () => {
      const res = await svc.get(`/usage?appId=${appA}&from=2024-03-02&to=2024-03-03`);
      expect(res.json.rows).toEqual([{ group: '2024-03-02', tier: 'sd', ...amounts(120, 2, 0.024, 1) }]);
    });

    test.each([
      ['', ['appId', 'from', 'to']],
      ['?from=2024-03-01&to=2024-03-02', ['appId']],
      ['?appId=1&from=2024-02-30&to=2024-03-02', ['from']],
      ['?appId=1&from=2024-03-01T10:00:00&to=2024-03-02', ['from']],
      ['?appId=1&from=yesterday&to=2024-13-01', ['from', 'to']],
      ['?appId=1&from=2024-03-02&to=2024-03-02', ['to']],
      ['?appId=1&from=2024-03-02&to=2024-03-01', ['to']],
      ['?appId=1&from=2023-01-01&to=2024-01-03', ['to']],
      ['?appId=1&from=2024-03-01&to=2024-03-02&groupBy=tier', ['groupBy']],
      ['?appId=1&appId=2&from=2024-03-01&to=2024-03-02', ['appId']],
    ])('400 naming the fields: %s', async (query, fields) => {
      const res = await svc.get(`/usage${query}`);
      expect(res.status).toBe(400);
      expect(res.json.ok).toBe(false);
      expect(res.json.error).toBe(`invalid query: ${fields.join(', ')}`);
      expect((res.json.details as { field: string }[]).map((d) => d.field)).toEqual(fields);
    });

    test('a range of exactly 366 days is accepted', async () => {
      const res = await svc.get(`/usage?appId=${appA}&from=2024-01-01&to=2025-01-01`);
      expect(res.status).toBe(200);
      expect(res.json.totals).toMatchObject({ lifecycles: 7 });
    });
  });
});

describe('GET /usage wiring of the server', () => {
  const logger = createLogger({ level: 'silent' });
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'usage-server-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) =>
    loadServerConfig({
      ...TEST_ENV,
      TEMPORAL_TASK_QUEUE: `usage-${randomUUID()}`,
      DATA_DIR: dataDir,
      ...extra,
    });

  test('without DATABASE_URL (and no reader given) it answers 503', async () => {
    const http = await startHttpService(env(), temporalConnectConfig(process.env), logger);
    try {
      const res = await fetch(`${http.url}/usage?appId=1&from=2024-03-01&to=2024-03-02`, {
        headers: { authorization: `Bearer ${TEST_ENV.ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        ok: false,
        error: 'usage reports need DATABASE_URL (or npm run dev)',
        details: [],
      });
    } finally {
      await http.close();
    }
  });

  test('with DATABASE_URL the server opens the ledger itself', async () => {
    const fresh = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: fresh.url, dataDir: '' });
    const http = await startHttpService(
      env({ DATABASE_URL: fresh.url }),
      temporalConnectConfig(process.env),
      logger,
    );
    try {
      const { appA, records } = fixtures();
      await load(db, records);
      const res = await fetch(`${http.url}/usage?appId=${appA}&from=2024-03-01&to=2024-03-04`, {
        headers: { authorization: `Bearer ${TEST_ENV.ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true, ...expectedByDay() });
    } finally {
      await http.close();
      await db.close();
      await fresh.drop();
    }
  });
});
