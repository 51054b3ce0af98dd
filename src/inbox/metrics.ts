/**
 * The inbox's Prometheus series, on the HTTP server's own registry (src/http/metrics.ts).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeliveryFailureKind } from './classify';

export type DeliveryOutcomeLabel = 'accepted' | 'duplicate_after_close' | DeliveryFailureKind;
export const DELIVERY_OUTCOME_LABELS: readonly DeliveryOutcomeLabel[] = [
  'accepted',
  'duplicate_after_close',
  'unavailable',
  'waiting',
  'refused',
  'failed',
];

export interface InboxMetrics {
  /** Entries not yet taken by Temporal. */
  readonly pending: Gauge;
  /** Entries Temporal refused for good (parked). */
  readonly rejected: Gauge;
  /** Age of the oldest pending entry, seconds (0 when none). */
  readonly oldestPendingAge: Gauge;
  /** Seconds from receipt to Temporal's acknowledgement of the signal-with-start. */
  readonly deliveryLatency: Histogram;
  /** Delivery attempts by outcome. */
  readonly deliveries: Counter<'outcome'>;
  /** 1 while this replica's relay can reach Temporal (its circuit is closed), else 0. */
  readonly temporalReachable: Gauge;
}

export function createInboxMetrics(registry: Registry): InboxMetrics {
  const deliveries = new Counter({
    name: 'zego_inbox_deliveries_total',
    help: 'Inbox deliveries to Temporal (signal-with-start), by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of DELIVERY_OUTCOME_LABELS) deliveries.inc({ outcome }, 0);
  const temporalReachable = new Gauge({
    name: 'zego_inbox_relay_temporal_reachable',
    help: "1 while this replica's relay delivers to Temporal, 0 while it backs off",
    registers: [registry],
  });
  temporalReachable.set(1);
  return {
    pending: new Gauge({
      name: 'zego_inbox_pending',
      help: 'Callbacks recorded and not yet taken by Temporal',
      registers: [registry],
    }),
    rejected: new Gauge({
      name: 'zego_inbox_rejected',
      help: 'Callbacks Temporal refused for good, parked for an operator',
      registers: [registry],
    }),
    oldestPendingAge: new Gauge({
      name: 'zego_inbox_oldest_pending_age_seconds',
      help: 'Age of the oldest callback not yet taken by Temporal (0 when none)',
      registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: 'zego_inbox_delivery_latency_seconds',
      help: 'Seconds from receiving a callback to Temporal taking it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    }),
    deliveries,
    temporalReachable,
  };
}
