/**
 * A dependency-free SVG line chart: acknowledgement latency (log scale) against offered rate, one
 * line per percentile, a dashed line for the target, whiskers for the spread of the runs.
 */

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  /** x, median y, and the smallest and largest y of the runs. */
  points: { x: number; y: number; yMin: number; yMax: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Horizontal reference line (e.g. the 50 ms target). */
  target?: { y: number; label: string };
  /** Vertical reference line (e.g. the measured maximum rate). */
  marker?: { x: number; label: string };
}

const W = 760;
const H = 440;
const M = { left: 70, right: 170, top: 40, bottom: 55 };

export function latencyChart(o: ChartOptions): string {
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x)).concat(o.marker ? [o.marker.x] : []);
  const ys = o.series
    .flatMap((s) => s.points.flatMap((p) => [p.yMin, p.yMax, p.y]))
    .concat(o.target ? [o.target.y] : [])
    .filter((y) => y > 0);
  const xMax = niceCeil(Math.max(...xs) * 1.05);
  const yLo = Math.pow(10, Math.floor(Math.log10(Math.min(...ys))));
  const yHi = Math.pow(10, Math.ceil(Math.log10(Math.max(...ys))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + (x / xMax) * pw;
  const sy = (y: number) =>
    M.top +
    ph -
    ((Math.log10(Math.max(y, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2 + M.left / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  );
  // Grid and ticks.
  for (let d = yLo; d <= yHi; d *= 10) {
    for (const m of [1, 2, 5]) {
      const y = d * m;
      if (y > yHi) break;
      out.push(
        `<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e5e5"/>`,
        `<text x="${M.left - 6}" y="${sy(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
      );
    }
  }
  const xStep = niceStep(xMax / 6);
  for (let x = 0; x <= xMax + 1e-9; x += xStep) {
    out.push(
      `<line x1="${sx(x)}" x2="${sx(x)}" y1="${M.top}" y2="${M.top + ph}" stroke="#f0f0f0"/>`,
      `<text x="${sx(x)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(x)}</text>`,
    );
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  if (o.target) {
    out.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(o.target.y)}" y2="${sy(o.target.y)}" stroke="#d62728" stroke-dasharray="6 4"/>`,
      `<text x="${M.left + pw + 6}" y="${sy(o.target.y) + 4}" fill="#d62728">${esc(o.target.label)}</text>`,
    );
  }
  if (o.marker) {
    out.push(
      `<line x1="${sx(o.marker.x)}" x2="${sx(o.marker.x)}" y1="${M.top}" y2="${M.top + ph}" stroke="#555" stroke-dasharray="2 3"/>`,
      `<text x="${sx(o.marker.x) - 4}" y="${M.top + 14}" text-anchor="end" fill="#555">${esc(o.marker.label)}</text>`,
    );
  }
  o.series.forEach((s, k) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of pts) {
      out.push(
        `<line x1="${sx(p.x)}" x2="${sx(p.x)}" y1="${sy(p.yMin)}" y2="${sy(p.yMax)}" stroke="${s.color}" stroke-width="1"/>`,
        `<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="3.5" fill="${s.color}"/>`,
      );
    }
    const ly = M.top + 20 + k * 20;
    out.push(
      `<line x1="${M.left + pw + 10}" x2="${M.left + pw + 34}" y1="${ly + 40}" y2="${ly + 40}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${M.left + pw + 40}" y="${ly + 44}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function fmt(n: number): string {
  return n >= 1000 ? `${n / 1000}k` : String(Math.round(n * 100) / 100);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceStep(raw: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function niceCeil(x: number): number {
  const step = niceStep(x / 6);
  return Math.ceil(x / step) * step;
}
