/**
 * Prometheus metrics of the HTTP server, on a Registry of its own (never prom-client's global one,
 * so several apps in one process — tests, `dev` — don't collide).
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export const CALLBACK_OUTCOMES = [
  /** Handed to Temporal and acknowledged. */
  'accepted',
  /** Acknowledged by Temporal, and the exact signed body had been seen before (a ZEGO retry). */
  'duplicate',
  /** The task's lifecycle had already closed and this callback belonged to it. */
  'duplicate_after_close',
  /** Correctly signed event of a type this service does not handle. */
  'ignored',
  /** Missing/wrong signature, stale timestamp or a nonce replayed with another body (401). */
  'unsigned',
  /** A transcode event missing or mistyping a required field (400). */
  'invalid',
  /** Body could not be decoded (400). */
  'unreadable',
  /** Body over 64 KiB (413). */
  'too_large',
  /** Temporal (or the nonce store) unavailable or too slow (503). */
  'unavailable',
] as const;
export type CallbackOutcome = (typeof CALLBACK_OUTCOMES)[number];

/** `event` label values: the handled events, anything else collapses (bounded cardinality). */
export type CallbackEventLabel = 'transcode_start' | 'transcode_stop' | 'other' | 'unknown';

export function callbackEventLabel(event: string | null | undefined): CallbackEventLabel {
  if (event === 'transcode_start' || event === 'transcode_stop') return event;
  return event ? 'other' : 'unknown';
}

export type HandoffOutcomeLabel = 'accepted' | 'duplicate_after_close' | 'unavailable';

export interface HttpMetrics {
  readonly registry: Registry;
  /** Seconds per request, by method, route pattern (never the raw URL) and status. */
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  /** Callbacks by event and outcome. */
  readonly callbacks: Counter<'event' | 'outcome'>;
  /** Seconds from handing a callback to the gateway to its answer, by outcome. */
  readonly handoffDuration: Histogram<'outcome'>;
  /** Admin requests refused by the token guard or the console, by reason (missing, invalid, expired, rate_limited). */
  readonly adminAuthFailures: Counter<'reason'>;
}

export interface MetricsOptions {
  /** Collect prom-client's default Node process metrics (default true). */
  defaultMetrics?: boolean;
  /** Labels added to every series (e.g. `{ service: 'server' }`). */
  defaultLabels?: Record<string, string>;
}

export function createMetrics(opts: MetricsOptions = {}): HttpMetrics {
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const callbacks = new Counter({
    name: 'zego_callbacks_total',
    help: 'ZEGO callbacks received, by event and outcome',
    labelNames: ['event', 'outcome'] as const,
    registers: [registry],
  });
  const handoffDuration = new Histogram({
    name: 'zego_callback_handoff_duration_seconds',
    help: 'Time for Temporal to acknowledge a callback hand-off, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  const adminAuthFailures = new Counter({
    name: 'zego_admin_auth_failures_total',
    help: 'Admin requests refused by the token guard, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['missing', 'invalid', 'rate_limited']) adminAuthFailures.inc({ reason }, 0);
  // Series every dashboard expects exist at zero from the start.
  for (const event of ['transcode_start', 'transcode_stop'] as const) {
    for (const outcome of CALLBACK_OUTCOMES) callbacks.inc({ event, outcome }, 0);
  }

  return { registry, httpRequestDuration, callbacks, handoffDuration, adminAuthFailures };
}
