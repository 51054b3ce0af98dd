/**
 * 8. A burst: N callbacks (whole lifecycles, starts then stops) posted as fast as the server answers,
 * many in flight, to the server with its inbox as shipped. Acknowledged at what rate, with how many
 * non-2xx, and how long Temporal takes to drain the backlog behind (every entry `delivered`).
 */
import type { BenchEnv } from '../lib/bench-env';
import { closedLoop, HttpPoster } from '../lib/load';
import { count, met, table, type SummaryRow } from '../lib/markdown';
import { percentile } from '../lib/stats';
import { TARGETS } from '../lib/targets';
import { MAIN_QUEUE } from '../lib/traffic';

export interface BurstResult {
  n: number;
  concurrency: number;
  acknowledgedPerSecond: number;
  non2xx: number;
  outcomes: Record<string, number>;
  ackP50Ms: number;
  ackP99Ms: number;
  /** First callback posted → last one answered, ms. */
  ackMs: number;
  /** First callback posted → every acknowledged entry delivered, ms (null: not within the timeout). */
  drainedMs: number | null;
  /** Delivered when the last answer came back. */
  deliveredAtLastAck: number;
}

const APP = '800010';
const DRAIN_TIMEOUT_MS = 600_000;

export async function measure(env: BenchEnv): Promise<BurstResult> {
  const { stack, traffic, log } = env;
  const { n, concurrency } = env.sizes.burst;
  const server = await stack.startServer(MAIN_QUEUE, { name: 'burst' });
  const poster = new HttpPoster(`${server.url}/zego/callback`, concurrency);
  try {
    // Warm-up (JIT, connections), not counted.
    const warm = traffic.block(APP, 'warm', 2 * concurrency);
    traffic.handedOver(
      APP,
      await closedLoop(warm.length, concurrency, (i) => poster.post(warm[i].body, warm[i].contentType)),
      warm.length,
    );
    await traffic.settle();
    const cbs = traffic.block(APP, 'burst', n);
    const t0 = Date.now();
    const res = await closedLoop(cbs.length, concurrency, (i) =>
      poster.post(cbs[i].body, cbs[i].contentType),
    );
    const ackMs = Date.now() - t0;
    const deliveredAtLastAck = await traffic.delivered(APP, 'burst');
    log(
      `  ${res.ok}/${cbs.length} acknowledged at ${res.throughput.toFixed(0)}/s (${JSON.stringify(res.outcomes)}); ` +
        `${deliveredAtLastAck} delivered by then`,
    );
    const drainedMs = await traffic.deliveredAfter(APP, 'burst', res.ok, t0, DRAIN_TIMEOUT_MS);
    log(
      `  drained ${drainedMs === null ? `not within ${DRAIN_TIMEOUT_MS / 1000} s` : `after ${(drainedMs / 1000).toFixed(1)} s`}`,
    );
    traffic.handedOver(APP, res, cbs.length);
    await traffic.settle(DRAIN_TIMEOUT_MS);
    return {
      n: cbs.length,
      concurrency,
      acknowledgedPerSecond: res.throughput,
      non2xx: res.operations - res.ok,
      outcomes: res.outcomes,
      ackP50Ms: percentile(res.latenciesMs, 0.5),
      ackP99Ms: percentile(res.latenciesMs, 0.99),
      ackMs,
      drainedMs,
      deliveredAtLastAck,
    };
  } finally {
    poster.close();
    await server.child.kill();
  }
}

const burstMet = (b: BurstResult) => b.acknowledgedPerSecond >= TARGETS.burstAckPerSecond && b.non2xx === 0;
const seconds = (ms: number | null) => (ms === null ? 'not drained' : `${(ms / 1000).toFixed(1)} s`);

export function summary(b: BurstResult): SummaryRow[] {
  return [
    [
      `burst of ${count(b.n)} callbacks, ${b.concurrency} in flight: acknowledged /s, non-2xx; Temporal drained after`,
      `${b.acknowledgedPerSecond.toFixed(0)}/s, ${b.non2xx} non-2xx; drained after ${seconds(b.drainedMs)}`,
      `≥ ${count(TARGETS.burstAckPerSecond)}/s, 0 non-2xx`,
      met(burstMet(b)),
    ],
  ];
}

export function render(b: BurstResult): string[] {
  return [
    '## 8. A burst while Temporal drains behind',
    '',
    `${count(b.n)} callbacks (the starts of ${count(b.n / 2)} new lifecycles, then their stops), closed loop with ` +
      `${b.concurrency} in flight, to the server with its inbox as shipped, after a warm-up; then the bench waits ` +
      'until every acknowledged entry is `delivered` (its relay had Temporal take the signal-with-start).',
    '',
    table(
      ['', ''],
      [
        ['acknowledged /s', b.acknowledgedPerSecond.toFixed(0)],
        [
          'answers',
          Object.entries(b.outcomes)
            .map(([k, v]) => `${k}: ${count(v)}`)
            .join(', '),
        ],
        ['acknowledgement p50 / p99 ms', `${b.ackP50Ms.toFixed(1)} / ${b.ackP99Ms.toFixed(1)}`],
        ['last answer after', seconds(b.ackMs)],
        ['delivered by then', count(b.deliveredAtLastAck)],
        ['every entry delivered after', seconds(b.drainedMs)],
      ],
    ),
    '',
  ];
}

export function findings(b: BurstResult): string[] {
  const drainRate = b.drainedMs ? (b.n - b.non2xx) / (b.drainedMs / 1000) : null;
  return [
    `- **Burst (${b.acknowledgedPerSecond.toFixed(0)}/s acknowledged, ${b.non2xx} non-2xx, target ≥ ` +
      `${count(TARGETS.burstAckPerSecond)}/s with 0 non-2xx ${burstMet(b) ? 'met' : 'missed'}).** The answers ` +
      `took ${seconds(b.ackMs)}; Temporal had ${count(b.deliveredAtLastAck)} of them by then and all after ` +
      `${seconds(b.drainedMs)}` +
      (drainRate ? ` (${drainRate.toFixed(0)}/s delivered over the whole burst).` : '.'),
  ];
}
