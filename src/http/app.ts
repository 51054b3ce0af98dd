/**
 * The HTTP server: ZEGO callbacks, health probes, and the admin surface behind the token guard
 * (task queries, usage, callback log, metrics) and the operator console (src/console/). Knows
 * nothing of Temporal (only the LifecycleGateway port) and reads no environment: everything arrives
 * in `deps`.
 *
 * `surface` splits the routes over two listeners when the admin surface has a port of its own
 * (ADMIN_PORT): `public` serves the callback and the probes only, `admin` the probes and the
 * admin routes; `all` (one listener) serves everything.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { Logger } from '../logger';
import type { UsageReader } from '../store/usage';
import { consoleRouter } from '../console/router';
import { adminGuard, createAdminAuth } from './admin-auth';
import { callbackLogRouter, type CallbackLogRoutesDeps } from './callback-log-routes';
import { CALLBACK_PATH, callbackRouter } from './callback-route';
import { finalErrorHandler, notFound, setRequestContext } from './errors';
import { metricsRouter, probeRouter } from './health-routes';
import type { HttpMetrics } from './metrics';
import type { CallbackRecorder, LifecycleGateway, ReadinessReport } from './ports';
import { taskRouter } from './task-routes';
import { usageRouter } from './usage-route';

export interface AppDeps extends CallbackLogRoutesDeps {
  /** Task queries (and, without a database, the hand-off itself through `recorder`). */
  gateway: LifecycleGateway;
  /** Where a callback is made safe before the 200: the inbox, or Temporal (src/inbox/recorders.ts). */
  recorder: CallbackRecorder;
  /** What /readyz reports. */
  readiness: () => Promise<ReadinessReport>;
  logger: Logger;
  metrics: HttpMetrics;
  /** Accepted CallbackSecrets (any verifies). */
  secrets: readonly string[];
  /** Accepted distance between a callback's Timestamp and now, both directions. */
  maxSkewMs: number;
  /** Clock (epoch ms) for freshness checks and `receivedAt`; default Date.now. */
  now?: () => number;
  /** HANDOFF_TIMEOUT: the longest one callback request may take before the answer is 503. */
  handoffTimeoutMs?: number;
  /** True while the server drains on shutdown: answers carry `Connection: close`. */
  isDraining?: () => boolean;
  /** Usage reports over the billing ledger; without it GET /usage answers 503. */
  usage?: UsageReader;
  /** ADMIN_TOKEN: accepted bearer tokens; empty or absent: the admin routes answer 404. */
  adminTokens?: readonly string[];
  /** TEMPORAL_UI_URL and the namespace: the console links each workflow into that UI. */
  temporalUi?: { url: string; namespace: string };
}

export type AppSurface = 'all' | 'public' | 'admin';

const REQUEST_ID_HEADER = 'X-Request-Id';
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
/** Routes polled by probes and scrapers: logged at debug, not info. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
/** Routes that log a line of their own per request (the callback's says what happened to it). */
const SELF_LOGGING_ROUTES = new Set([CALLBACK_PATH]);

export function createApp(deps: AppDeps, surface: AppSurface = 'all'): express.Application {
  const { logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Request id, child logger, access log and duration histogram.
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.get(REQUEST_ID_HEADER);
    const requestId = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.set(REQUEST_ID_HEADER, requestId);
    // Draining: keep-alive clients reconnect (to another replica) for their next request.
    if (deps.isDraining?.()) res.set('Connection', 'close');
    setRequestContext(res, requestId, logger.child({ requestId }));
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      metrics.httpRequestDuration.observe(
        { method: req.method, route, status: String(res.statusCode) },
        seconds,
      );
      const log = (res.locals.log as Logger | undefined) ?? logger;
      const quiet = QUIET_ROUTES.has(route) || SELF_LOGGING_ROUTES.has(route);
      const level = quiet && res.statusCode < 500 ? 'debug' : 'info';
      log[level](
        {
          method: req.method,
          // originalUrl: a router that answered itself (the console) leaves req.path relative to it.
          path: req.originalUrl.split('?')[0],
          route,
          status: res.statusCode,
          ms: Math.round(seconds * 1e4) / 10,
        },
        'request completed',
      );
    });
    next();
  });

  if (surface !== 'admin') app.use(callbackRouter(deps));
  app.use(probeRouter(deps));
  if (surface !== 'public') {
    // One failure allowance per address for the bearer guard and the console's sign-in and session.
    const auth = createAdminAuth({ tokens: deps.adminTokens ?? [], metrics });
    // The console checks its own credentials (session cookie or bearer token); off without tokens.
    if (auth.enabled) app.use('/console', consoleRouter({ ...deps, auth }));
    // Everything below needs the bearer token.
    app.use(adminGuard({ auth }));
    app.use(metricsRouter(deps));
    app.use(taskRouter(deps));
    app.use(usageRouter(deps));
    app.use(callbackLogRouter(deps));
  }
  app.use(notFound);
  app.use(finalErrorHandler);
  return app;
}
