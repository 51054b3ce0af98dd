/**
 * The console's browser session (docs/console.md "Sign-in"). After the admin token was entered once,
 * the browser holds a session cookie whose value is not the token but
 *
 *     issuedAt "." base64url(HMAC-SHA256(key = token, "console-session:" + issuedAt))
 *
 * with `issuedAt` in epoch milliseconds. It is stateless, so every replica verifies it, against
 * every configured token: removing a token from ADMIN_TOKEN ends the sessions it opened. A session
 * is accepted for at most SESSION_MAX_AGE_MS; the cookie itself has no Max-Age/Expires, so the
 * browser drops it when it closes. POSTs also carry a CSRF token, an HMAC of the session value under
 * the same token, in a hidden field.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

export const SESSION_COOKIE = 'zt_console';
export const SESSION_PATH = '/console';
export const SESSION_MAX_AGE_MS = 12 * 3600_000;
/** Clock difference between replicas tolerated for a session issued "in the future". */
const FUTURE_SKEW_MS = 60_000;

const SESSION_FORMAT = /^(\d{13})\.([A-Za-z0-9_-]{43})$/;

function mac(key: string, message: string): Buffer {
  return createHmac('sha256', key).update(message, 'utf8').digest();
}

export function sessionValue(token: string, issuedAtMs: number): string {
  const issuedAt = String(Math.floor(issuedAtMs));
  return `${issuedAt}.${mac(token, `console-session:${issuedAt}`).toString('base64url')}`;
}

export interface Session {
  /** The token that opened it; keys its CSRF token. Never written anywhere. */
  token: string;
  value: string;
  issuedAtMs: number;
}

export type SessionCheck = { ok: true; session: Session } | { ok: false; reason: 'invalid' | 'expired' };

/**
 * Checks a cookie value against every token (all compared, so the time taken does not say which
 * one matched), then its age.
 */
export function verifySession(value: string, tokens: readonly string[], nowMs: number): SessionCheck {
  const m = SESSION_FORMAT.exec(value);
  if (!m) return { ok: false, reason: 'invalid' };
  const given = Buffer.from(m[2], 'base64url');
  let matched: string | undefined;
  for (const token of tokens) {
    const expected = mac(token, `console-session:${m[1]}`);
    if (timingSafeEqual(expected, given) && matched === undefined) matched = token;
  }
  if (matched === undefined) return { ok: false, reason: 'invalid' };
  const issuedAtMs = Number(m[1]);
  if (issuedAtMs > nowMs + FUTURE_SKEW_MS || nowMs - issuedAtMs > SESSION_MAX_AGE_MS) {
    return { ok: false, reason: 'expired' };
  }
  return { ok: true, session: { token: matched, value, issuedAtMs } };
}

export function csrfToken(session: Session): string {
  return mac(session.token, `console-csrf:${session.value}`).toString('base64url');
}

export function csrfMatches(session: Session, candidate: unknown): boolean {
  if (typeof candidate !== 'string') return false;
  const expected = Buffer.from(csrfToken(session));
  const given = Buffer.from(candidate);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Every value of the session cookie in the request (a browser may send more than one). */
export function sessionCookies(req: Request): string[] {
  const header = req.get('cookie');
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    values.push(part.slice(eq + 1).trim());
  }
  return values;
}

/**
 * `Secure` when the browser talks https to us: directly, or through a proxy that says so. Trusting
 * the proxy header here is harmless: a forged one can only make the browser withhold the cookie.
 */
function isHttps(req: Request): boolean {
  const forwarded = req.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  return req.secure || forwarded === 'https';
}

function cookieAttributes(req: Request): string {
  return `Path=${SESSION_PATH}; HttpOnly; SameSite=Strict${isHttps(req) ? '; Secure' : ''}`;
}

/** No Max-Age or Expires: a browser-session cookie. */
export function setSessionCookie(req: Request, res: Response, value: string): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=${value}; ${cookieAttributes(req)}`);
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.append(
    'Set-Cookie',
    `${SESSION_COOKIE}=; ${cookieAttributes(req)}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`,
  );
}
