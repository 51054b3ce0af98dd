/**
 * The usage chart: one stacked bar per UTC day (a segment per tier), as inline SVG rendered on the
 * server, so it needs no script and no library. Bars carry a <title> (hover text); the numbers
 * themselves are in the table the usage page puts under the chart, for screen readers and copying.
 */
import { TIERS, type Tier } from '../zego/billing-types';
import type { UsageRow } from '../store/usage';
import { formatCost, formatCount } from './format';
import { html, type SafeHtml } from './html';
import { TIER_COLORS } from './style';

export type ChartMetric = 'minutes' | 'cost';

const W = 760;
const H = 280;
const M = { left: 64, right: 12, top: 14, bottom: 34 };

/** A round step for about `count` gridlines up to `max`: 1, 2 or 5 times a power of ten. */
export function niceStep(max: number, count = 4): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw) ?? 10 * power;
  return step;
}

function value(row: { minutes: number; cost: number }, metric: ChartMetric): number {
  return metric === 'minutes' ? row.minutes : row.cost;
}

function label(n: number, metric: ChartMetric): string {
  return metric === 'minutes' ? formatCount(n) : formatCost(n);
}

/** Days in order, each with its tiers' rows. */
export function usageChart(opts: {
  days: readonly string[];
  rows: readonly UsageRow[];
  metric: ChartMetric;
  title: string;
  description: string;
}): SafeHtml {
  const { days, metric } = opts;
  const byDay = new Map<string, UsageRow[]>();
  for (const row of opts.rows) byDay.set(row.group, [...(byDay.get(row.group) ?? []), row]);
  const tiersUsed = TIERS.filter((t) => opts.rows.some((r) => r.tier === t));
  const totals = days.map((d) => (byDay.get(d) ?? []).reduce((sum, r) => sum + value(r, metric), 0));
  const max = Math.max(0, ...totals);
  const step = niceStep(max);
  const top = max > 0 ? Math.ceil(max / step) * step : step;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(1, Math.min(40, slot * 0.72));

  const grid: SafeHtml[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    const gy = y(v);
    grid.push(
      html`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${gy.toFixed(1)}" y2="${gy.toFixed(1)}"/><text class="axis" x="${M.left - 6}" y="${(gy + 4).toFixed(1)}" text-anchor="end">${label(v, metric)}</text>`,
    );
  }
  const every = Math.max(1, Math.ceil(days.length / 12));
  const bars: SafeHtml[] = [];
  days.forEach((day, i) => {
    const x = M.left + i * slot + (slot - barW) / 2;
    if (i % every === 0) {
      bars.push(
        html`<text class="axis" x="${(x + barW / 2).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${day.slice(5)}</text>`,
      );
    }
    let base = 0;
    const rows = [...(byDay.get(day) ?? [])].sort((a, b) => TIERS.indexOf(a.tier) - TIERS.indexOf(b.tier));
    for (const row of rows) {
      const v = value(row, metric);
      if (!(v > 0)) continue;
      const y1 = y(base + v);
      const h = Math.max(1, y(base) - y1);
      base += v;
      bars.push(
        html`<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${TIER_COLORS[row.tier] ?? '#57606a'}" stroke="#fff" stroke-width="1"><title>${day} · ${row.tier}: ${formatCount(row.minutes)} min, ${formatCost(row.cost)} CNY</title></rect>`,
      );
    }
  });
  const empty =
    max === 0
      ? html`<text class="axis" x="${M.left + plotW / 2}" y="${M.top + plotH / 2}" text-anchor="middle">No billed usage in this range</text>`
      : '';
  const legend = tiersUsed.map(
    (tier: Tier) => html`<li><span class="swatch t-${tier}" aria-hidden="true"></span>${tier}</li>`,
  );
  const axisY = y(0).toFixed(1);
  return html`<figure class="chart">
<svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="usage-chart-title usage-chart-desc" xmlns="http://www.w3.org/2000/svg">
<title id="usage-chart-title">${opts.title}</title>
<desc id="usage-chart-desc">${opts.description}</desc>
${grid}
<line x1="${M.left}" x2="${W - M.right}" y1="${axisY}" y2="${axisY}" stroke="#57606a"/>
${bars}${empty}
</svg>
<figcaption><ul class="legend" aria-label="Tiers">${legend}</ul></figcaption>
</figure>`;
}
