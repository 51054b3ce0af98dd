/**
 * HTML built by one tagged template that escapes every interpolated value unless it is already
 * `SafeHtml` (the output of `html` itself). Task ids, stream URLs and error texts are attacker-chosen
 * strings: nothing reaches a page without passing through `escapeHtml`, and the only way around it is
 * `html` output, so forgetting to escape is impossible rather than merely unlikely.
 */
const SAFE = Symbol('SafeHtml');

export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for element content and for double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function safe(text: string): SafeHtml {
  return { [SAFE]: true, text };
}

export function isSafeHtml(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && SAFE in value;
}

/** What may be interpolated: text (escaped), numbers, html output, lists of those; nullish and false render nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false || value === true) return '';
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  if (isSafeHtml(value)) return value.text;
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0];
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1];
  });
  return safe(out);
}

/** Markup this module cannot check: only for constants written in this code base (never input). */
export function trustedHtml(text: string): SafeHtml {
  return safe(text);
}

/** A path under /console with each segment URL-encoded and an optional query (empty values dropped). */
export function consoleHref(
  segments: readonly string[],
  query: Record<string, string | number | undefined> = {},
): string {
  const path = ['/console', ...segments.map(encodeURIComponent)].join('/');
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}
