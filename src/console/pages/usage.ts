/**
 * GET /console/usage?appId=&from=&to=&metric= — an app's billed usage per UTC day and tier (the
 * same report as GET /usage, read through the same UsageReader), as a chart and tables with totals.
 * The form's `to` is the last day shown (inclusive); the report's range is [from, to + 1 day).
 */
import { TIERS } from '../../zego/billing-types';
import type { UsageReport } from '../../store/usage';
import { MAX_USAGE_RANGE_DAYS, parseUsageTime } from '../../http/usage-route';
import { usageChart, type ChartMetric } from '../chart';
import { formatCost, formatCount, utcDay } from '../format';
import { html, type SafeHtml } from '../html';
import { PageError, param, unavailable, type ConsoleDeps, type Page } from '../deps';
import { notice, table } from '../parts';

const DAY_MS = 86_400_000;
/** Days shown when the form gives none: the last 30, today included. */
const DEFAULT_DAYS = 30;
const MAX_SUGGESTED_APPS = 20;

function dayParam(query: Record<string, unknown>, name: string, fallback: number): number {
  const raw = param(query, name, 10);
  if (!raw) return fallback;
  const d = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? parseUsageTime(raw) : null;
  if (!d) throw new PageError(400, 'Bad request', `${name} must be a day (YYYY-MM-DD)`);
  return d.getTime();
}

function form(
  appId: string,
  from: string,
  to: string,
  metric: ChartMetric,
  apps: readonly string[],
): SafeHtml {
  const metricOptions = (['minutes', 'cost'] as const).map(
    (m) =>
      html`<option value="${m}" ${m === metric ? html` selected` : ''}>
        ${m === 'minutes' ? 'minutes' : 'cost (CNY)'}
      </option>`,
  );
  return html`<form class="filters" method="get" action="/console/usage" aria-label="Usage report">
    <div class="field">
      <label for="u-app">App ID</label
      ><input id="u-app" name="appId" value="${appId}" required size="12" autocomplete="off" list="u-apps" />
    </div>
    <datalist id="u-apps">${apps.map((a) => html`<option value="${a}"></option>`)}</datalist>
    <div class="field">
      <label for="u-from">From (UTC day)</label><input id="u-from" name="from" type="date" value="${from}" />
    </div>
    <div class="field">
      <label for="u-to">To (UTC day, included)</label><input id="u-to" name="to" type="date" value="${to}" />
    </div>
    <div class="field">
      <label for="u-metric">Chart</label
      ><select id="u-metric" name="metric">
        ${metricOptions}
      </select>
    </div>
    <button type="submit">Show</button>
  </form>`;
}

async function recentApps(deps: ConsoleDeps): Promise<string[]> {
  try {
    const tasks = await deps.gateway.list({ limit: 200 });
    return [...new Set(tasks.map((t) => t.appId))].sort().slice(0, MAX_SUGGESTED_APPS);
  } catch {
    return [];
  }
}

function tables(report: UsageReport, days: readonly string[]): SafeHtml {
  const tiers = TIERS.filter((t) => report.totals.byTier[t]);
  const totals = table({
    label: 'Usage totals per tier',
    id: 'usage-totals',
    columns: [
      'Tier',
      { label: 'Minutes', num: true },
      { label: 'Seconds', num: true },
      { label: 'Cost (CNY)', num: true },
      { label: 'Lifecycles', num: true },
    ],
    rows: tiers.map((t) => {
      const a = report.totals.byTier[t]!;
      return [
        t,
        formatCount(a.minutes),
        formatCount(a.seconds),
        formatCost(a.cost),
        formatCount(a.lifecycles),
      ];
    }),
    foot: [
      'All tiers',
      formatCount(report.totals.minutes),
      formatCount(report.totals.seconds),
      formatCost(report.totals.cost),
      formatCount(report.totals.lifecycles),
    ],
  });
  const perDay = days
    .map((day) => ({ day, rows: report.rows.filter((r) => r.group === day) }))
    .filter((d) => d.rows.length > 0);
  const daily = table({
    label: 'Minutes per day and tier',
    id: 'usage-days',
    columns: [
      'Day (UTC)',
      ...tiers.map((t) => ({ label: `${t} min`, num: true })),
      { label: 'Minutes', num: true },
      { label: 'Cost (CNY)', num: true },
    ],
    rows: perDay.map(({ day, rows }) => [
      day,
      ...tiers.map((t) => {
        const r = rows.find((x) => x.tier === t);
        return r ? formatCount(r.minutes) : '';
      }),
      formatCount(rows.reduce((s, r) => s + r.minutes, 0)),
      formatCost(rows.reduce((s, r) => s + r.cost, 0)),
    ]),
    empty: 'No billed usage in this range.',
  });
  return html`<h2 id="totals">Totals</h2>
    ${totals}
    <h2 id="per-day">Per day</h2>
    ${daily}`;
}

export async function usagePage(deps: ConsoleDeps, query: Record<string, unknown>): Promise<Page> {
  const appId = param(query, 'appId');
  const metricRaw = param(query, 'metric');
  const metric: ChartMetric = metricRaw === 'cost' ? 'cost' : 'minutes';
  const now = deps.now?.() ?? Date.now();
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const toDay = dayParam(query, 'to', today);
  const fromDay = dayParam(query, 'from', toDay - (DEFAULT_DAYS - 1) * DAY_MS);
  if (fromDay > toDay) throw new PageError(400, 'Bad request', 'From must not be after To');
  if ((toDay - fromDay) / DAY_MS + 1 > MAX_USAGE_RANGE_DAYS) {
    throw new PageError(400, 'Bad request', `The range may span at most ${MAX_USAGE_RANGE_DAYS} days`);
  }
  const from = utcDay(fromDay);
  const to = utcDay(toDay);
  const head = html`<h1>Usage</h1>`;
  if (!deps.usage) {
    return {
      title: 'Usage',
      section: 'usage',
      body: html`${head}${notice('info', 'Usage reports need DATABASE_URL (or npm run dev).')}`,
    };
  }
  const apps = await recentApps(deps);
  const filters = form(appId, from, to, metric, apps);
  if (!appId) {
    return {
      title: 'Usage',
      section: 'usage',
      body: html`${head}${filters}
        <p>Reports are per app: choose an App ID.</p>
        ${
          apps.length
            ? html`<p>
                Apps with recent tasks:
                ${apps.map((a, i) => html`${i ? ', ' : ''}<a href="/console/usage?appId=${encodeURIComponent(a)}">${a}</a>`)}
              </p>`
            : ''
        }`,
    };
  }
  let report: UsageReport;
  try {
    report = await deps.usage.report({
      appId,
      from: new Date(fromDay),
      to: new Date(toDay + DAY_MS),
      groupBy: 'day',
    });
  } catch {
    throw unavailable('The billing ledger');
  }
  const days: string[] = [];
  for (let d = fromDay; d <= toDay; d += DAY_MS) days.push(utcDay(d));
  const total =
    metric === 'minutes'
      ? `${formatCount(report.totals.minutes)} minutes`
      : `${formatCost(report.totals.cost)} CNY`;
  const body = html`${head}${filters}
    <div class="cards" id="usage-cards">
      <div class="card">
        <div class="muted">Minutes</div>
        <div class="value" id="total-minutes">${formatCount(report.totals.minutes)}</div>
      </div>
      <div class="card">
        <div class="muted">Cost (CNY)</div>
        <div class="value" id="total-cost">${formatCost(report.totals.cost)}</div>
      </div>
      <div class="card">
        <div class="muted">Lifecycles</div>
        <div class="value" id="total-lifecycles">${formatCount(report.totals.lifecycles)}</div>
      </div>
    </div>
    <h2 id="chart">${metric === 'minutes' ? 'Minutes' : 'Cost (CNY)'} per UTC day and tier</h2>
    ${usageChart({
      days,
      rows: report.rows,
      metric,
      title: `${metric === 'minutes' ? 'Minutes' : 'Cost'} per UTC day and tier, app ${appId}, ${from} to ${to}`,
      description: `Stacked bars, one per day; total ${total}. The same numbers are in the tables below.`,
    })}
    ${tables(report, days)}`;
  return { title: `Usage of app ${appId}`, section: 'usage', body };
}
