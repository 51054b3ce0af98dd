/**
 * GET /usage?appId=&from=&to=&groupBy=day|user — billed usage of one app from the ledger
 * (src/store/usage.ts): a lifecycle counts at its `stopped_at`, `from` inclusive, `to` exclusive.
 *
 * `from`/`to` are `YYYY-MM-DD` (00:00 UTC of that day) or ISO-8601 date-times with `Z` or an
 * offset; the range is at most 366 days. Without a usage reader (the server runs without
 * DATABASE_URL, so the ledger is in the worker's embedded database) the answer is 503.
 */
import { Router, type Request } from 'express';
import { USAGE_GROUP_BYS, type UsageGroupBy, type UsageReader } from '../store/usage';
import { errorMessage, logOf, sendError, sendOk, sendUnavailable } from './errors';

export const MAX_USAGE_RANGE_DAYS = 366;
const DAY_MS = 86_400_000;
const MAX_APP_ID_LENGTH = 256;
export const USAGE_UNAVAILABLE = 'usage reports need DATABASE_URL (or npm run dev)';

export interface UsageRouteDeps {
  /** Absent when the ledger is not reachable from this process. */
  usage?: UsageReader;
}

interface Problem {
  field: string;
  message: string;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** `YYYY-MM-DD` (UTC midnight) or an ISO date-time with a zone; null when neither (or not a real date). */
export function parseUsageTime(text: string): Date | null {
  const dateOnly = DATE_ONLY.exec(text);
  const m = dateOnly ?? DATE_TIME.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Calendar check: Date.UTC would quietly roll 2024-02-30 over to March 1st.
  const midnight = new Date(Date.UTC(year, month - 1, day));
  if (
    midnight.getUTCFullYear() !== year ||
    midnight.getUTCMonth() !== month - 1 ||
    midnight.getUTCDate() !== day
  ) {
    return null;
  }
  if (dateOnly) return midnight;
  const ms = Date.parse(text.toUpperCase());
  return Number.isNaN(ms) ? null : new Date(ms);
}

function single(req: Request, name: string, problems: Problem[]): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') {
    problems.push({ field: name, message: 'must be given once' });
    return undefined;
  }
  return value;
}

export function parseUsageQuery(req: Request): {
  query?: { appId: string; from: Date; to: Date; groupBy: UsageGroupBy };
  problems: Problem[];
} {
  const problems: Problem[] = [];
  const appId = single(req, 'appId', problems);
  if (appId === undefined) {
    if (!problems.some((p) => p.field === 'appId')) problems.push({ field: 'appId', message: 'is required' });
  } else if (appId.length > MAX_APP_ID_LENGTH) {
    problems.push({ field: 'appId', message: `must be at most ${MAX_APP_ID_LENGTH} characters` });
  }
  const times: Partial<Record<'from' | 'to', Date>> = {};
  for (const field of ['from', 'to'] as const) {
    const raw = single(req, field, problems);
    if (raw === undefined) {
      if (!problems.some((p) => p.field === field)) problems.push({ field, message: 'is required' });
      continue;
    }
    const time = parseUsageTime(raw);
    if (time) times[field] = time;
    else
      problems.push({
        field,
        message: `${JSON.stringify(raw.slice(0, 64))} is not a date (YYYY-MM-DD, UTC) or an ISO date-time with Z or an offset`,
      });
  }
  const { from, to } = times;
  if (from && to) {
    if (!(from.getTime() < to.getTime())) {
      problems.push({ field: 'to', message: 'must be after from (from is inclusive, to exclusive)' });
    } else if (to.getTime() - from.getTime() > MAX_USAGE_RANGE_DAYS * DAY_MS) {
      problems.push({ field: 'to', message: `the range may span at most ${MAX_USAGE_RANGE_DAYS} days` });
    }
  }
  let groupBy: UsageGroupBy = 'day';
  const rawGroupBy = single(req, 'groupBy', problems);
  if (rawGroupBy !== undefined) {
    if ((USAGE_GROUP_BYS as readonly string[]).includes(rawGroupBy)) groupBy = rawGroupBy as UsageGroupBy;
    else
      problems.push({
        field: 'groupBy',
        message: `${JSON.stringify(rawGroupBy.slice(0, 64))} is not one of ${USAGE_GROUP_BYS.join(', ')}`,
      });
  }
  if (problems.length > 0 || appId === undefined || !from || !to) return { problems };
  return { query: { appId, from, to, groupBy }, problems };
}

export function usageRouter(deps: UsageRouteDeps): Router {
  const router = Router();

  router.get('/usage', async (req, res) => {
    if (!deps.usage) {
      sendError(res, 503, USAGE_UNAVAILABLE);
      return;
    }
    const { query, problems } = parseUsageQuery(req);
    if (!query) {
      sendError(
        res,
        400,
        `invalid query: ${[...new Set(problems.map((p) => p.field))].join(', ')}`,
        problems,
      );
      return;
    }
    let report;
    try {
      report = await deps.usage.report(query);
    } catch (err) {
      logOf(res).error({ err: errorMessage(err) }, 'usage report failed');
      sendUnavailable(res, 'the billing ledger could not be read, retry later');
      return;
    }
    sendOk(res, {
      appId: query.appId,
      from: query.from.toISOString(),
      to: query.to.toISOString(),
      groupBy: query.groupBy,
      currency: report.currency,
      rows: report.rows,
      totals: report.totals,
    });
  });

  return router;
}
