/**
 * The admin surface's token guard (contract "Configuration": `ADMIN_TOKEN`).
 *
 * Every route but the callback and the health probes sits behind it. `Authorization: Bearer
 * <token>` must equal one of the configured tokens (several during a rotation), compared in
 * constant time over SHA-256 digests so neither a token's length nor its prefix leaks through
 * timing. Without configured tokens the admin routes do not exist (404). Failed attempts are counted
 * (metric) and limited per client address; a client over the limit gets 429 for every admin
 * request until its window passes, a right token included, so guessing cannot go on at full speed.
 * Neither a token nor the header ever reaches a log line or an error body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { logOf, sendError } from './errors';
import type { HttpMetrics } from './metrics';

export const ADMIN_AUTH_REALM = 'zego-transcode-lifecycle';
/** Failed attempts a client address may make per window before it is refused with 429. */
export const ADMIN_AUTH_MAX_FAILURES = 20;
export const ADMIN_AUTH_WINDOW_MS = 60_000;

/** Why a credential was refused; `expired` is a console session past its age. */
export type AdminAuthFailure = 'missing' | 'invalid' | 'expired' | 'rate_limited';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * A checker for one set of tokens: true when `candidate` equals one of them. Every configured token
 * is compared (no early return), so the time taken does not say which one matched.
 */
export function tokenMatcher(tokens: readonly string[]): (candidate: string) => boolean {
  const digests = tokens.map(digest);
  return (candidate) => {
    const given = digest(candidate);
    let match = false;
    for (const known of digests) match = timingSafeEqual(known, given) || match;
    return match;
  };
}

/** The bearer credential of an `Authorization` header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

export interface AdminAuthOptions {
  /** Accepted tokens; empty: the admin routes answer 404. */
  tokens: readonly string[];
  metrics: HttpMetrics;
  /** Failed attempts per client address and window; defaults above. */
  maxFailures?: number;
  windowMs?: number;
}

/** Answers a request refused by the rate limit (the console renders a page instead of JSON). */
export type LimitedResponder = (res: Response, retryAfterSeconds: number) => void;

/**
 * One set of tokens with its failure counter and per-address limit, shared by every credential check
 * of an app (the bearer guard and the console's login and session), so failures anywhere count
 * against one allowance.
 */
export interface AdminAuth {
  /** False when no token is configured: the admin surface is off. */
  readonly enabled: boolean;
  /** The configured tokens (the console keys its session MACs with them). */
  readonly tokens: readonly string[];
  /** True when `candidate` is one of the tokens; constant time over all of them. */
  matches(candidate: string): boolean;
  /** Counts and logs one refusal (never with the credential); the 401 answered after it is what the limit counts. */
  refused(res: Response, reason: AdminAuthFailure): void;
  /**
   * Runs `next` unless the client address is over its allowance; a 401 answered after `throttle`
   * counts as one failed attempt. `onLimited` answers a refused request (default: JSON 429).
   */
  throttle(req: Request, res: Response, next: NextFunction, onLimited?: LimitedResponder): void;
}

export function createAdminAuth(opts: AdminAuthOptions): AdminAuth {
  const { metrics } = opts;
  const matches = tokenMatcher(opts.tokens);
  const count = (reason: AdminAuthFailure) => metrics.adminAuthFailures.inc({ reason });
  const responders = new WeakMap<Response, LimitedResponder>();

  const limiter = rateLimit({
    windowMs: opts.windowMs ?? ADMIN_AUTH_WINDOW_MS,
    limit: opts.maxFailures ?? ADMIN_AUTH_MAX_FAILURES,
    // Only refusals count: an operator's own traffic never uses up the allowance.
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, res, _next, options) => {
      count('rate_limited');
      logOf(res).warn('admin request refused: too many failed authentication attempts from this address');
      const seconds = Math.ceil(options.windowMs / 1000);
      res.set('Retry-After', String(seconds));
      const respond = responders.get(res);
      if (respond) return respond(res, seconds);
      sendError(res, 429, 'too many failed authentication attempts; retry later', [], {
        code: 'rate_limited',
      });
    },
  });

  return {
    enabled: opts.tokens.length > 0,
    tokens: opts.tokens,
    matches,
    refused(res, reason) {
      count(reason);
      logOf(res).warn({ reason }, 'admin request refused: authentication failed');
    },
    throttle(req, res, next, onLimited) {
      if (onLimited) responders.set(res, onLimited);
      void limiter(req, res, next);
    },
  };
}

export type AdminGuardOptions = AdminAuthOptions | { auth: AdminAuth };

/**
 * Middleware for everything mounted after it. `accept(req)` lets another credential pass; the
 * bearer token is checked otherwise. Give `auth` to share its failure allowance with other checks.
 */
export function adminGuard(opts: AdminGuardOptions & { accept?: (req: Request) => boolean }): RequestHandler {
  const auth = 'auth' in opts ? opts.auth : createAdminAuth(opts);
  if (!auth.enabled) {
    return (req, res) => {
      sendError(res, 404, `no route for ${req.method} ${req.path}`, [
        'the admin surface is off: set ADMIN_TOKEN to turn it on',
      ]);
    };
  }

  const check: RequestHandler = (req, res, next) => {
    if (opts.accept?.(req)) {
      next();
      return;
    }
    const token = bearerToken(req.get('authorization'));
    if (token !== undefined && auth.matches(token)) {
      next();
      return;
    }
    const reason: AdminAuthFailure = token === undefined ? 'missing' : 'invalid';
    auth.refused(res, reason);
    res.set('WWW-Authenticate', `Bearer realm="${ADMIN_AUTH_REALM}"`);
    sendError(
      res,
      401,
      reason === 'missing'
        ? 'admin token required (Authorization: Bearer <ADMIN_TOKEN>)'
        : 'admin token not accepted',
      [],
      { code: reason === 'missing' ? 'token_missing' : 'token_invalid' },
    );
  };

  return (req, res, next) => {
    auth.throttle(req, res, (err?: unknown) => (err ? next(err) : check(req, res, next)));
  };
}
