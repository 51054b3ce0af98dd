/**
 * The probes, which need no token: GET /healthz (process alive), GET /readyz (ready, else 503).
 * And GET /metrics (Prometheus text format from the app's own registry), an admin route.
 */
import { Router } from 'express';
import { errorMessage, logOf, sendError, sendOk } from './errors';
import type { HttpMetrics } from './metrics';
import type { LifecycleGateway } from './ports';

export interface HealthRoutesDeps {
  gateway: LifecycleGateway;
  metrics: HttpMetrics;
}

export function probeRouter(deps: HealthRoutesDeps): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    sendOk(res, { status: 'alive' });
  });

  router.get('/readyz', async (_req, res) => {
    let ready = false;
    try {
      ready = await deps.gateway.isReady();
    } catch (err) {
      logOf(res).warn({ err: errorMessage(err) }, 'readiness check failed');
    }
    if (ready) sendOk(res, { status: 'ready' });
    else sendError(res, 503, 'Temporal not reachable', [{ dependency: 'temporal', ready: false }]);
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
