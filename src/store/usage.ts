/**
 * Usage reports over the billing ledger: billed seconds, minutes, cost and lifecycles of one app
 * in a time range, per UTC day or per user, and per resolution tier.
 *
 * Boundaries: a lifecycle counts once, entirely, at its `stopped_at` (the stop callback's own
 * Timestamp; a stale task's stale deadline), never split across days. The range is half-open:
 * `from` inclusive, `to` exclusive, so consecutive ranges (`[d1, d2)`, `[d2, d3)`) never count a
 * lifecycle twice; one stopping exactly at 00:00:00.000 UTC belongs to the day that begins then.
 * Days are UTC calendar days (`YYYY-MM-DD`). Ledger rows without lines (`not_billable`: orphaned
 * stops) and without a `stopped_at` do not appear.
 *
 * Reads `billing_lines` alone (it carries app_id, user_id and stopped_at for this purpose, indexed
 * by (app_id, stopped_at)). One statement with GROUPING SETS yields the rows, the per-tier totals
 * and the grand total, summed exactly as NUMERIC in the database. The same SQL runs on PostgreSQL
 * and PGlite; per the store's portability rule every value is selected as text (src/store/sql.ts).
 *
 * Minutes are the sum of each lifecycle's own per-tier minutes (each rounded up as ZEGO bills
 * it), so a report's minutes and cost equal the sum of the lifecycles' bills.
 */
import { TIERS, type Tier } from '../zego/billing-types';
import { toNumber } from './sql';
import type { Sql } from './types';

export type UsageGroupBy = 'day' | 'user';
export const USAGE_GROUP_BYS: readonly UsageGroupBy[] = ['day', 'user'];

export interface UsageQuery {
  appId: string;
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
  groupBy: UsageGroupBy;
}

export interface UsageAmounts {
  seconds: number;
  minutes: number;
  /** CNY. */
  cost: number;
  /** Distinct lifecycles contributing. */
  lifecycles: number;
}

export interface UsageRow extends UsageAmounts {
  /** `YYYY-MM-DD` (UTC day of `stopped_at`) or the UserId, per `groupBy`. */
  group: string;
  tier: Tier;
}

export interface UsageTotals extends UsageAmounts {
  /** Only tiers that occur in the range. */
  byTier: Partial<Record<Tier, UsageAmounts>>;
}

export interface UsageReport {
  rows: UsageRow[];
  totals: UsageTotals;
  currency: 'CNY';
}

/** What the HTTP layer needs: a report for a validated query. */
export interface UsageReader {
  report(query: UsageQuery): Promise<UsageReport>;
}

/** The group expressions, chosen from this fixed table (never from input). */
const GROUP_SQL: Record<UsageGroupBy, string> = {
  day: `to_char(stopped_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  user: 'user_id',
};

function reportSql(groupBy: UsageGroupBy): string {
  return `
    SELECT GROUPING(grp)::text AS all_groups, GROUPING(tier)::text AS all_tiers, grp, tier,
           COALESCE(sum(seconds), 0)::text AS seconds, COALESCE(sum(minutes), 0)::text AS minutes,
           COALESCE(sum(cost), 0)::text AS cost, count(DISTINCT lifecycle_id)::text AS lifecycles
    FROM (
      SELECT ${GROUP_SQL[groupBy]} AS grp, tier, seconds, minutes, cost, lifecycle_id
      FROM billing_lines
      WHERE app_id = $1 AND stopped_at >= $2::timestamptz AND stopped_at < $3::timestamptz
    ) l
    GROUP BY GROUPING SETS ((grp, tier), (tier), ())`;
}

interface ReportRow {
  all_groups: string;
  all_tiers: string;
  grp: string | null;
  tier: string | null;
  seconds: string;
  minutes: string;
  cost: string;
  lifecycles: string;
}

const TIER_ORDER = new Map<string, number>(TIERS.map((t, i) => [t, i]));

function tierRank(tier: string): number {
  return TIER_ORDER.get(tier) ?? TIERS.length;
}

function amounts(row: ReportRow): UsageAmounts {
  return {
    seconds: toNumber(row.seconds),
    minutes: toNumber(row.minutes),
    cost: toNumber(row.cost),
    lifecycles: toNumber(row.lifecycles),
  };
}

export function checkUsageQuery(query: UsageQuery): void {
  if (typeof query.appId !== 'string' || query.appId === '') throw new RangeError('usage: appId is required');
  for (const field of ['from', 'to'] as const) {
    const value = query[field] as unknown;
    if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
      throw new RangeError(`usage: ${field} must be a valid Date`);
    }
  }
  if (!(query.from.getTime() < query.to.getTime())) throw new RangeError('usage: from must be before to');
  if (!USAGE_GROUP_BYS.includes(query.groupBy)) {
    throw new RangeError(`usage: groupBy must be one of ${USAGE_GROUP_BYS.join(', ')}`);
  }
}

/**
 * The usage of `appId` in `[from, to)` by `stopped_at`, grouped per `groupBy` and tier, with totals.
 * Rows are ordered by group, then tier (audio, sd, hd, fhd, uhd).
 */
export async function usageReport(sql: Sql, query: UsageQuery): Promise<UsageReport> {
  checkUsageQuery(query);
  const { rows } = await sql.query<ReportRow>(reportSql(query.groupBy), [
    query.appId,
    query.from.toISOString(),
    query.to.toISOString(),
  ]);
  const report: UsageReport = {
    rows: [],
    totals: { seconds: 0, minutes: 0, cost: 0, lifecycles: 0, byTier: {} },
    currency: 'CNY',
  };
  for (const row of rows) {
    if (row.all_groups === '0' && row.all_tiers === '0') {
      report.rows.push({ group: row.grp ?? '', tier: row.tier as Tier, ...amounts(row) });
    } else if (row.all_groups === '1' && row.all_tiers === '0') {
      report.totals.byTier[row.tier as Tier] = amounts(row);
    } else {
      report.totals = { ...amounts(row), byTier: report.totals.byTier };
    }
  }
  report.rows.sort((a, b) =>
    a.group !== b.group ? (a.group < b.group ? -1 : 1) : tierRank(a.tier) - tierRank(b.tier),
  );
  report.totals.byTier = Object.fromEntries(
    Object.entries(report.totals.byTier).sort(([a], [b]) => tierRank(a) - tierRank(b)),
  );
  return report;
}

/** The `UsageReader` over a database's `Sql` (the ledger's own connection pool or PGlite). */
export class SqlUsageReader implements UsageReader {
  constructor(private readonly sql: Sql) {}

  report(query: UsageQuery): Promise<UsageReport> {
    return usageReport(this.sql, query);
  }
}
