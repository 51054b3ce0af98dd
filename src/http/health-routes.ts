/**
 * The probes, which need no token and reveal nothing beyond readiness: GET /healthz (process
 * alive), GET /readyz (a callback can be taken all the way, else 503 naming what is missing; 200
 * `degraded` when the inbox records callbacks while Temporal is away). And GET /metrics (Prometheus
 * text format from the app's own registry), an admin route.
 */
import { Router } from 'express';
import { errorMessage, logOf, sendError, sendOk } from './errors';
import type { HttpMetrics } from './metrics';
import type { ReadinessReport } from './ports';

export interface HealthRoutesDeps {
  /** What /readyz reports; a failure counts as not ready. */
  readiness: () => Promise<ReadinessReport>;
  metrics: HttpMetrics;
}

export function probeRouter(deps: HealthRoutesDeps): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    sendOk(res, { status: 'alive' });
  });

  router.get('/readyz', async (_req, res) => {
    let report: ReadinessReport | undefined;
    try {
      report = await deps.readiness();
    } catch (err) {
      logOf(res).warn({ err: errorMessage(err) }, 'readiness check failed');
    }
    if (report && report.status !== 'not_ready') {
      sendOk(res, { status: report.status, mode: report.mode, dependencies: report.dependencies });
      return;
    }
    const missing = report?.dependencies.filter((d) => !d.ready).map((d) => d.dependency) ?? [];
    sendError(
      res,
      503,
      missing.length ? `not ready: ${missing.join(', ')} not reachable` : 'not ready',
      report?.dependencies ?? [],
      report ? { mode: report.mode } : {},
    );
  });
  return router;
}

export function metricsRouter(deps: Pick<HealthRoutesDeps, 'metrics'>): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const text = await deps.metrics.registry.metrics();
    res.set('Content-Type', deps.metrics.registry.contentType).send(text);
  });
  return router;
}
