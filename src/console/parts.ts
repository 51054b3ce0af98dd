/** Small pieces every page uses: badges, tables, notices, time cells. */
import { formatTime } from './format';
import { html, type HtmlValue, type SafeHtml } from './html';
import { BADGES } from './style';

export function badge(value: string | null | undefined): SafeHtml {
  if (!value) return html`<span class="muted">—</span>`;
  const cls = value in BADGES ? ` b-${value}` : '';
  return html`<span class="badge${cls}">${value.replace(/_/g, ' ')}</span>`;
}

export interface Column {
  label: string;
  num?: boolean;
}

/**
 * A table in a scrollable region (narrow screens): the region is focusable and labelled so keyboard
 * users can scroll it too. `rows` are lists of cells; a cell may be html.
 */
export function table(opts: {
  label: string;
  columns: readonly (Column | string)[];
  rows: readonly (readonly HtmlValue[])[];
  foot?: readonly HtmlValue[];
  empty?: string;
  id?: string;
}): SafeHtml {
  const cols = opts.columns.map((c) => (typeof c === 'string' ? { label: c } : c));
  if (opts.rows.length === 0) return html`<p class="muted">${opts.empty ?? 'Nothing here.'}</p>`;
  const cell = (tag: 'td' | 'th', i: number, value: HtmlValue) =>
    cols[i]?.num
      ? tag === 'td'
        ? html`<td class="num">${value}</td>`
        : html`<th class="num">${value}</th>`
      : tag === 'td'
        ? html`<td>${value}</td>`
        : html`<th>${value}</th>`;
  const headRow = cols.map((c) =>
    c.num ? html`<th scope="col" class="num">${c.label}</th>` : html`<th scope="col">${c.label}</th>`,
  );
  const body = opts.rows.map((row) => html`<tr>${row.map((v, i) => cell('td', i, v))}</tr>`);
  const foot = opts.foot ? html`<tfoot><tr>${opts.foot.map((v, i) => cell('td', i, v))}</tr></tfoot>` : '';
  return html`<div class="table" role="region" aria-label="${opts.label}" tabindex="0"><table${opts.id ? html` id="${opts.id}"` : ''}>
<thead><tr>${headRow}</tr></thead>
<tbody>${body}</tbody>${foot}
</table></div>`;
}

export function notice(kind: 'error' | 'ok' | 'info', text: HtmlValue): SafeHtml {
  return html`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;
}

/** A time cell: readable UTC with the ISO value machine-readable. */
export function time(value: string | number | null | undefined): SafeHtml {
  if (value === null || value === undefined || value === '') return html`<span class="muted">—</span>`;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) return html`${String(value)}`;
  return html`<time class="nowrap" datetime="${new Date(ms).toISOString()}">${formatTime(ms)}</time>`;
}

export function facts(items: readonly (readonly [string, HtmlValue])[]): SafeHtml {
  return html`<dl class="facts">${items.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}
