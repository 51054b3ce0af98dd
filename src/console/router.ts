/**
 * The operator console under /console (docs/console.md): server-rendered pages, plain GET forms for
 * filters and POST forms for actions, no script.
 *
 * Credentials: the session cookie (session.ts) or, for scripts, the same bearer token as the JSON
 * API. Without either, every path answers 401 with the sign-in form, the one page served without
 * credentials; sign-in attempts, bad bearer tokens and bad cookies go through the app's shared
 * AdminAuth (the guard's constant-time matcher, failure metric and per-address limit). POSTs made
 * with the cookie must carry the session's CSRF token.
 */
import express, {
  Router,
  type ErrorRequestHandler,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { ADMIN_AUTH_REALM, bearerToken, type LimitedResponder } from '../http/admin-auth';
import { clientErrorStatus, logOf } from '../http/errors';
import { PageError, Redirect, type ConsoleDeps, type Page } from './deps';
import { html } from './html';
import { renderPage, sendPage } from './layout';
import { alertsPage } from './pages/alerts';
import { inboxPage, safeBack } from './pages/inbox';
import { loginPage } from './pages/login';
import { taskPage } from './pages/task';
import { tasksPage } from './pages/tasks';
import { notice } from './parts';
import {
  clearSessionCookie,
  csrfMatches,
  csrfToken,
  sessionCookies,
  sessionValue,
  setSessionCookie,
  verifySession,
  type Session,
} from './session';
import { STYLESHEET, STYLESHEET_PATH } from './style';
import { usagePage } from './pages/usage';

interface Credential {
  /** Present when signed in with the cookie (forms then need the CSRF token). */
  session?: Session;
  csrf: string;
}

const ENTRY_ID = /^[1-9]\d{0,18}$/;

function credentialOf(res: Response): Credential {
  return res.locals.consoleCredential as Credential;
}

function sendLogin(res: Response, status: number, message?: string, next?: string): void {
  sendPage(res, status, loginPage({ message, next: next === '/console' ? undefined : next }), {
    inlineStyle: true,
  });
}

const rateLimited: LimitedResponder = (res, seconds) =>
  sendLogin(res, 429, `Too many failed sign-in attempts from this address. Try again in ${seconds} s.`);

/** `back` with `done`/`n` set to what the action did (earlier ones dropped). */
function withOutcome(back: string, done: string, n?: string): string {
  const url = new URL(back, 'http://console.invalid');
  url.searchParams.delete('done');
  url.searchParams.delete('n');
  url.searchParams.set('done', done);
  if (n !== undefined) url.searchParams.set('n', n);
  return `${url.pathname}${url.search}`;
}

export function consoleRouter(deps: ConsoleDeps): Router {
  const { auth } = deps;
  const now = () => deps.now?.() ?? Date.now();
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });

  const page =
    (build: (req: Request, res: Response) => Promise<Page>): RequestHandler =>
    async (req, res, next) => {
      const credential = credentialOf(res);
      try {
        const p = await build(req, res);
        sendPage(
          res,
          p.status ?? 200,
          renderPage({ ...p, csrf: credential.session ? credential.csrf : undefined }),
        );
      } catch (err) {
        if (err instanceof Redirect) return res.redirect(303, err.location);
        if (err instanceof PageError) {
          if (err.status >= 500) logOf(res).warn({ err: err.message }, 'console page unavailable');
          return sendPage(
            res,
            err.status,
            renderPage({
              title: err.title,
              csrf: credential.session ? credential.csrf : undefined,
              body: html`<h1>${err.title}</h1>
                ${notice('error', err.message)}
                <p><a href="/console">Back to the tasks</a></p>`,
            }),
          );
        }
        next(err);
      }
    };

  // Sign-in: the only route served without credentials (besides the form every other path shows).
  router.post(
    '/login',
    (req, res, next) => auth.throttle(req, res, next, rateLimited),
    form,
    (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const token = typeof body.token === 'string' ? body.token.trim() : '';
      const next = safeBack(body.next, '/console');
      if (!token) {
        auth.refused(res, 'missing');
        return sendLogin(res, 401, 'Enter the admin token.', next);
      }
      if (!auth.matches(token)) {
        auth.refused(res, 'invalid');
        return sendLogin(res, 401, 'That token is not accepted.', next);
      }
      setSessionCookie(req, res, sessionValue(token, now()));
      logOf(res).info('console session opened');
      res.redirect(303, next);
    },
  );

  // Everything else needs the session or a bearer token.
  router.use((req, res, next) => {
    const bearer = bearerToken(req.get('authorization'));
    const cookies = sessionCookies(req);
    const back = req.method === 'GET' ? safeBack(req.originalUrl, '/console') : '/console';
    // Just the form: looking at it is not a failed attempt.
    if (bearer === undefined && cookies.length === 0) return sendLogin(res, 401, undefined, back);
    auth.throttle(
      req,
      res,
      (err?: unknown) => {
        if (err) return next(err);
        if (bearer !== undefined) {
          if (auth.matches(bearer)) {
            res.locals.consoleCredential = { csrf: '' } satisfies Credential;
            return next();
          }
          auth.refused(res, 'invalid');
          res.set('WWW-Authenticate', `Bearer realm="${ADMIN_AUTH_REALM}"`);
          return sendLogin(res, 401, 'That token is not accepted.', back);
        }
        let expired = false;
        for (const value of cookies) {
          const check = verifySession(value, auth.tokens, now());
          if (check.ok) {
            res.locals.consoleCredential = {
              session: check.session,
              csrf: csrfToken(check.session),
            } satisfies Credential;
            return next();
          }
          expired ||= check.reason === 'expired';
        }
        auth.refused(res, expired ? 'expired' : 'invalid');
        clearSessionCookie(req, res);
        sendLogin(
          res,
          401,
          expired
            ? 'Your session has ended: sign in again.'
            : 'Your session is not valid (any more): sign in again.',
          back,
        );
      },
      rateLimited,
    );
  });

  // Forms posted with the cookie must prove they came from a console page.
  const csrf: RequestHandler = (req, res, next) => {
    const { session } = credentialOf(res);
    const given = (req.body as Record<string, unknown> | undefined)?.csrf;
    if (session && !csrfMatches(session, given)) {
      return sendPage(
        res,
        403,
        renderPage({
          title: 'Form expired',
          csrf: credentialOf(res).csrf,
          body: html`<h1>This form has expired</h1>
            ${notice('error', 'Reload the page and try again.')}`,
        }),
      );
    }
    next();
  };

  router.get(STYLESHEET_PATH.slice('/console'.length), (_req, res) => {
    res.set({
      'Content-Type': 'text/css; charset=utf-8',
      'Cache-Control': 'private, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
    });
    res.send(STYLESHEET);
  });

  router.get(
    '/',
    page((req) => tasksPage(deps, req.query)),
  );
  router.get(
    '/apps/:appId/tasks/:taskId',
    page((req, res) => {
      const { appId, taskId } = req.params as { appId: string; taskId: string };
      return taskPage(deps, appId, taskId, { csrf: credentialOf(res).csrf });
    }),
  );
  router.get(
    '/usage',
    page((req) => usagePage(deps, req.query)),
  );
  router.get(
    '/alerts',
    page((req) => alertsPage(deps, req.query)),
  );
  router.get(
    '/inbox',
    page((req, res) => inboxPage(deps, req.query, { csrf: credentialOf(res).csrf })),
  );

  router.post(
    '/inbox/redeliver-rejected',
    form,
    csrf,
    page(async (req, res) => {
      if (!deps.inbox) throw new PageError(503, 'Unavailable', 'The callback inbox needs DATABASE_URL.');
      const back = safeBack((req.body as Record<string, unknown>).back);
      let ids: string[];
      try {
        ids = await deps.inbox.redeliverAll('rejected');
      } catch {
        throw new PageError(
          503,
          'Unavailable',
          'The callback inbox could not be reached; nothing was redelivered.',
        );
      }
      if (ids.length) deps.onRedeliver?.();
      logOf(res).info({ count: ids.length }, 'console: rejected callbacks handed back to the relay');
      throw new Redirect(withOutcome(back, 'all', String(ids.length)));
    }),
  );

  router.post(
    '/inbox/:id/redeliver',
    form,
    csrf,
    page(async (req, res) => {
      if (!deps.inbox) throw new PageError(503, 'Unavailable', 'The callback inbox needs DATABASE_URL.');
      const { id } = req.params as { id: string };
      const back = safeBack((req.body as Record<string, unknown>).back);
      if (!ENTRY_ID.test(id)) throw new PageError(400, 'Bad request', 'That is not a callback log entry.');
      let entry;
      try {
        entry = await deps.inbox.redeliver(id);
      } catch {
        throw new PageError(
          503,
          'Unavailable',
          'The callback inbox could not be reached; nothing was redelivered.',
        );
      }
      if (!entry) throw new Redirect(withOutcome(back, 'unknown'));
      deps.onRedeliver?.();
      logOf(res).info({ id, workflowId: entry.workflowId }, 'console: callback handed back to the relay');
      throw new Redirect(withOutcome(back, 'one', id));
    }),
  );

  router.post('/logout', form, csrf, (req, res) => {
    clearSessionCookie(req, res);
    res.redirect(303, '/console');
  });

  router.use(
    page(async () => {
      throw new PageError(404, 'Not found', 'There is no console page here.');
    }),
  );

  const errors: ErrorRequestHandler = (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const status = clientErrorStatus(err);
    if (status === undefined) return next(err);
    sendPage(
      res,
      status,
      renderPage({
        title: 'Bad request',
        body: html`<h1>Bad request</h1>
          ${notice('error', 'The form could not be read.')}`,
      }),
    );
  };
  router.use(errors);
  return router;
}
