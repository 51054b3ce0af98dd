/**
 * The simulation's outcome: how ZEGO's deliveries fared (first try, after retries, given up), the status
 * codes and acknowledgement latencies seen, as an object, a table or JSON.
 */
import type { ExpectedTaskState } from './expected';
import type { Plan, PlannedCallback } from './plan';
import type { AttemptOutcome, SendResult } from './sender';

export interface SimulationSummary {
  seed: string;
  tasks: number;
  /** Distinct deliveries ZEGO made (originals and redeliveries), each retried on its own. */
  callbacks: number;
  /** HTTP requests sent, retries included. */
  attempts: number;
  deliveredFirstTry: number;
  deliveredAfterRetry: number;
  /** Delivered after exactly k retries: { "1": n, "2": m, ... }. */
  deliveredAfterRetries: Record<string, number>;
  /** Not delivered after the last retry: what ZEGO would have lost. */
  givenUp: number;
  /** Per attempt: HTTP status, `timeout` or `network_error`. */
  statusCounts: Record<string, number>;
  /** Per attempt, request to answer (or timeout), ms. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  durationMs: number;
  /** Callbacks per second over the run. */
  ratePerSecond: number;
}

/** A callback that was never acknowledged. */
export interface LostCallback {
  id: number;
  appId: string;
  taskId: string;
  event: string;
  sequence: number;
  status: string;
  kind: PlannedCallback['kind'];
  outcomes: AttemptOutcome[];
}

export interface SimulationReport {
  summary: SimulationSummary;
  /** The final state each task should reach in the service, from the plan. */
  expected: ExpectedTaskState[];
  lost: LostCallback[];
}

export function summarize(plan: Plan, sent: SendResult): SimulationSummary {
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  const afterRetries: Record<string, number> = {};
  let attempts = 0;
  let firstTry = 0;
  let afterRetry = 0;
  let givenUp = 0;
  for (const delivery of sent.deliveries) {
    for (const a of delivery.attempts) {
      attempts += 1;
      latencies.push(a.latencyMs);
      const key = String(a.outcome);
      statusCounts[key] = (statusCounts[key] ?? 0) + 1;
    }
    if (!delivery.delivered) givenUp += 1;
    else if (delivery.attempts.length === 1) firstTry += 1;
    else {
      afterRetry += 1;
      const k = String(delivery.attempts.length - 1);
      afterRetries[k] = (afterRetries[k] ?? 0) + 1;
    }
  }
  latencies.sort((a, b) => a - b);
  const seconds = sent.durationMs / 1000;
  return {
    seed: plan.seed,
    tasks: plan.tasks.length,
    callbacks: sent.deliveries.length,
    attempts,
    deliveredFirstTry: firstTry,
    deliveredAfterRetry: afterRetry,
    deliveredAfterRetries: afterRetries,
    givenUp,
    statusCounts,
    latencyMs: {
      p50: round(percentile(latencies, 0.5)),
      p90: round(percentile(latencies, 0.9)),
      p99: round(percentile(latencies, 0.99)),
      max: round(latencies[latencies.length - 1] ?? 0),
    },
    durationMs: Math.round(sent.durationMs),
    ratePerSecond: seconds > 0 ? round(sent.deliveries.length / seconds) : 0,
  };
}

export function lostCallbacks(plan: Plan, sent: SendResult): LostCallback[] {
  return sent.deliveries
    .filter((d) => !d.delivered)
    .map((d) => {
      const cb = plan.callbacks[d.id];
      const task = plan.tasks[cb.taskIndex];
      return {
        id: cb.id,
        appId: task.appId,
        taskId: task.taskId,
        event: cb.event,
        sequence: cb.sequence,
        status: cb.status,
        kind: cb.kind,
        outcomes: d.attempts.map((a) => a.outcome),
      };
    });
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function formatTable(summary: SimulationSummary): string {
  const retries = Object.entries(summary.deliveredAfterRetries)
    .map(([k, n]) => `${n}×${k}`)
    .join(', ');
  const statuses = Object.entries(summary.statusCounts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');
  const { p50, p90, p99, max } = summary.latencyMs;
  const rows: [string, string][] = [
    ['seed', summary.seed],
    ['tasks', String(summary.tasks)],
    ['callbacks', String(summary.callbacks)],
    ['attempts', String(summary.attempts)],
    ['delivered first try', String(summary.deliveredFirstTry)],
    [
      'delivered after retry',
      `${summary.deliveredAfterRetry}${retries ? ` (count×retries: ${retries})` : ''}`,
    ],
    ['given up', String(summary.givenUp)],
    ['status codes', statuses || '-'],
    ['latency ms', `p50 ${p50}  p90 ${p90}  p99 ${p99}  max ${max}`],
    ['duration', `${(summary.durationMs / 1000).toFixed(2)} s`],
    ['rate', `${summary.ratePerSecond} callbacks/s`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
