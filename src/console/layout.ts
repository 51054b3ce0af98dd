/**
 * The page shell (landmarks, navigation, sign-out) and how pages are sent: strict
 * Content-Security-Policy (no script at all; styles only from the console's own stylesheet, or the
 * login page's one inline block by hash), nosniff, no referrer, never framed, never cached.
 */
import type { Response } from 'express';
import { html, trustedHtml, type SafeHtml } from './html';
import { STYLESHEET, STYLESHEET_HASH, STYLESHEET_PATH } from './style';

export type Section = 'tasks' | 'usage' | 'alerts' | 'inbox';

const NAV: readonly { section: Section; label: string; href: string }[] = [
  { section: 'tasks', label: 'Tasks', href: '/console' },
  { section: 'usage', label: 'Usage', href: '/console/usage' },
  { section: 'alerts', label: 'Alerts', href: '/console/alerts' },
  { section: 'inbox', label: 'Inbox', href: '/console/inbox' },
];

const PRODUCT = 'Transcode console';

function csp(style: string): string {
  return [
    "default-src 'self'",
    "script-src 'none'",
    `style-src ${style}`,
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

export function setPageHeaders(res: Response, opts: { inlineStyle?: boolean } = {}): void {
  res.set({
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': csp(opts.inlineStyle ? `'sha256-${STYLESHEET_HASH}'` : "'self'"),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  });
}

export interface PageOptions {
  title: string;
  section?: Section;
  /** The session's CSRF token (sign-out form); absent when signed in with a bearer token. */
  csrf?: string;
  body: SafeHtml;
}

function head(title: string, style: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · ${PRODUCT}</title>
<link rel="icon" href="data:,">
${style}
</head>`;
}

export function renderPage(opts: PageOptions): string {
  const nav = NAV.map(
    (item) =>
      html`<li><a href="${item.href}"${item.section === opts.section ? trustedHtml(' aria-current="page"') : ''}>${item.label}</a></li>`,
  );
  const signOut =
    opts.csrf !== undefined
      ? html`<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${opts.csrf}"><button type="submit">Sign out</button></form>`
      : '';
  return html`${head(opts.title, html`<link rel="stylesheet" href="${STYLESHEET_PATH}">`)}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><div class="wrap">
<a class="brand" href="/console">${PRODUCT}</a>
<nav aria-label="Console"><ul>${nav}</ul></nav>
${signOut}
</div></header>
<main id="main" tabindex="-1"><div class="wrap">
${opts.body}
</div></main>
<footer><div class="wrap">Times are UTC. Stream keys in URLs are hidden (•••).</div></footer>
</body>
</html>`.text;
}

/** A page without navigation or data (the sign-in form), its stylesheet inline. */
export function renderBarePage(title: string, body: SafeHtml): string {
  // Exactly STYLESHEET between the tags: the policy allows it by its hash.
  return html`${head(title, html`<style>${trustedHtml(STYLESHEET)}</style>`)}
<body>
<main id="main" class="login">
${body}
</main>
</body>
</html>`.text;
}

export function sendPage(
  res: Response,
  status: number,
  page: string,
  opts: { inlineStyle?: boolean } = {},
): void {
  setPageHeaders(res, opts);
  res.status(status).send(page);
}
