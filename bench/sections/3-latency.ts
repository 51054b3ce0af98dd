/**
 * 3. Acknowledgement latency against offered rate (open loop) at fractions of the maximum sustained
 * rate, with raw signal-with-start offered at the same rates, in turn; the chart latency.svg.
 *
 * The maximum sustained rate is section 2's billed rate: callbacks until the worker has billed their
 * lifecycles, what the whole stack keeps up with indefinitely. (Runs before 2026-12-03 took section
 * 2's delivery rate, the relay's hand-off into Temporal, which the worker cannot keep up with: their
 * 50% point already overloaded the machine. That rate is kept beside, as `handOffRate`.)
 */
import type { BenchEnv } from '../lib/bench-env';
import { latencyChart } from '../lib/chart';
import { HttpPoster, inTurn, openLoop, type LoadResult } from '../lib/load';
import { met, table, type SummaryRow } from '../lib/markdown';
import { formatSpread, percentile, spread, type Spread } from '../lib/stats';
import { TARGETS } from '../lib/targets';
import { MAIN_QUEUE } from '../lib/traffic';
import { payloadOf } from '../lib/stack';
import type { PairResult } from './2-throughput';

export interface SweepPoint {
  fraction: number;
  rate: number;
  achieved: Spread;
  p50: Spread;
  p99: Spread;
  non2xx: number;
  /** Raw signal-with-start offered at the same rate, in turn with the HTTP runs. */
  raw: { p50: Spread; p99: Spread };
}

export interface SweepResult {
  /** The maximum sustained rate the fractions are of (section 2's median billed rate), /s. */
  maxRate: number;
  /** Section 2's median delivery (hand-off) rate, /s: what earlier runs took as the maximum. */
  handOffRate?: number;
  seconds: number;
  runs: number;
  points: SweepPoint[];
}

/** The open loop's cap on requests in flight (a due request waits for a slot, and the wait counts). */
const MAX_IN_FLIGHT = 500;

/** The rates section 3 is taken against, from section 2 at its lower concurrency. */
export function sustainedRates(p: PairResult): { maxRate: number; handOffRate: number } {
  return { maxRate: (p.settled ?? p.delivery).median, handOffRate: p.delivery.median };
}

export async function measure(
  env: BenchEnv,
  { maxRate, handOffRate }: { maxRate: number; handOffRate?: number },
): Promise<SweepResult> {
  const { stack, traffic, log } = env;
  const { fractions, seconds, runs } = env.sizes.sweep;
  const gateway = stack.gateway(MAIN_QUEUE);
  const server = await stack.startServer(MAIN_QUEUE, { name: 'sweep' });
  const poster = new HttpPoster(`${server.url}/zego/callback`, MAX_IN_FLIGHT);
  const blank = () => ({ achieved: [] as number[], p50: [] as number[], p99: [] as number[], non2xx: 0 });
  const http = fractions.map(blank);
  const raw = fractions.map(blank);
  const record = (into: ReturnType<typeof blank>, res: LoadResult) => {
    into.achieved.push(res.throughput);
    into.p50.push(percentile(res.latenciesMs, 0.5));
    into.p99.push(percentile(res.latenciesMs, 0.99));
    into.non2xx += res.operations - res.ok;
  };
  try {
    for (let r = 0; r < runs; r++) {
      for (const [k, fraction] of fractions.entries()) {
        const rate = Math.max(1, maxRate * fraction);
        const n = Math.max(20, Math.round(rate * seconds));
        const runHttp = async () => {
          const cbs = traffic.block('800003', `sw-${r}-${k}`, n);
          await traffic.settle(60_000);
          const res = await openLoop(cbs.length, rate, MAX_IN_FLIGHT, (i) =>
            poster.post(cbs[i].body, cbs[i].contentType),
          );
          traffic.handedOver('800003', res, cbs.length);
          record(http[k], res);
        };
        const runRaw = async () => {
          const payloads = traffic.block('800005', `swr-${r}-${k}`, n).map((c) => payloadOf(c));
          await traffic.settle(60_000);
          const res = await openLoop(payloads.length, rate, MAX_IN_FLIGHT, async (i) => {
            await gateway.deliver(payloads[i]);
            return 'ok';
          });
          traffic.handedOver('800005', res, payloads.length);
          record(raw[k], res);
        };
        await inTurn(r + k, runHttp, runRaw);
        log(
          `  run ${r + 1}/${runs} ${(fraction * 100).toFixed(0)}% (${rate.toFixed(0)}/s): HTTP p50 ${http[k].p50.at(-1)?.toFixed(1)} ms,` +
            ` p99 ${http[k].p99.at(-1)?.toFixed(1)} ms; raw p50 ${raw[k].p50.at(-1)?.toFixed(1)} ms, p99 ${raw[k].p99.at(-1)?.toFixed(1)} ms`,
        );
      }
    }
  } finally {
    poster.close();
    await server.child.kill();
  }
  return {
    maxRate,
    ...(handOffRate != null ? { handOffRate } : {}),
    seconds,
    runs,
    points: fractions.map((fraction, k) => ({
      fraction,
      rate: Math.max(1, maxRate * fraction),
      achieved: spread(http[k].achieved),
      p50: spread(http[k].p50),
      p99: spread(http[k].p99),
      non2xx: http[k].non2xx,
      raw: { p50: spread(raw[k].p50), p99: spread(raw[k].p99) },
    })),
  };
}

export const halfRate = (s: SweepResult) => s.points.find((p) => p.fraction === 0.5);

/** The measured point nearest half the hand-off rate (the basis of earlier runs), if it was kept. */
function nearHalfHandOff(s: SweepResult): string {
  if (s.handOffRate == null || s.points.length === 0) return '';
  const target = s.handOffRate / 2;
  const near = s.points.reduce((a, b) => (Math.abs(b.rate - target) < Math.abs(a.rate - target) ? b : a));
  return (
    ` Half the relay's hand-off rate (${target.toFixed(0)}/s, the basis of earlier runs) is nearest the ` +
    `${(near.fraction * 100).toFixed(0)}% point (${near.rate.toFixed(0)}/s): p99 ${near.p99.median.toFixed(1)} ms, ` +
    `raw ${near.raw.p99.median.toFixed(1)} ms.`
  );
}

/** The summary line the issue asks for: it starts with `p99 ack` and says met or missed. */
export function p99AckLine(s: SweepResult): string {
  const half = halfRate(s);
  if (!half) return 'p99 ack at half the maximum sustained rate: not measured (no 50% point in this run).';
  return (
    `p99 ack at half the maximum sustained rate (${half.rate.toFixed(0)}/s): ${half.p99.median.toFixed(1)} ms ` +
    `against ≤ ${TARGETS.p99AckMs} ms, ${met(half.p99.median <= TARGETS.p99AckMs)}; raw signal-with-start at the ` +
    `same rate: p99 ${half.raw.p99.median.toFixed(1)} ms.` +
    nearHalfHandOff(s)
  );
}

export function summary(s: SweepResult): SummaryRow[] {
  const half = halfRate(s);
  return [
    [
      `p99 ack at half the maximum sustained rate (${half?.rate.toFixed(0)}/s; raw signal-with-start's p99 at that rate ` +
        `${half ? `${half.raw.p99.median.toFixed(1)} ms` : 'n/a'})`,
      half ? formatSpread(half.p99, 1, ' ms') : 'n/a',
      `≤ ${TARGETS.p99AckMs} ms`,
      met(!!half && half.p99.median <= TARGETS.p99AckMs),
    ],
  ];
}

export function chart(s: SweepResult): string {
  const pts = (pick: (p: SweepPoint) => Spread) =>
    s.points.map((p) => ({ x: p.rate, y: pick(p).median, yMin: pick(p).min, yMax: pick(p).max }));
  return latencyChart({
    title: 'Acknowledgement latency vs offered rate',
    xLabel: 'offered rate (callbacks/s, open loop)',
    yLabel: 'latency (ms, log scale)',
    series: [
      { name: 'HTTP p50', color: '#1f77b4', points: pts((p) => p.p50) },
      { name: 'HTTP p99', color: '#ff7f0e', points: pts((p) => p.p99) },
      { name: 'raw p50', color: '#2ca02c', dashed: true, points: pts((p) => p.raw.p50) },
      { name: 'raw p99', color: '#9467bd', dashed: true, points: pts((p) => p.raw.p99) },
    ],
    target: { y: TARGETS.p99AckMs, label: `p99 target ${TARGETS.p99AckMs} ms` },
    marker: { x: s.maxRate, label: `max sustained ${s.maxRate.toFixed(0)}/s` },
  });
}

export function render(s: SweepResult): string[] {
  return [
    '## 3. Acknowledgement latency against offered rate',
    '',
    `Open loop at fractions of the maximum sustained rate (${s.maxRate.toFixed(0)}/s: ` +
      (s.handOffRate != null
        ? "section 2's billed rate at its lower concurrency, callbacks until the worker has billed their lifecycles; " +
          `the relay's hand-off alone reached ${s.handOffRate.toFixed(0)}/s, a rate the worker does not keep up with, ` +
          `which earlier runs took as the maximum, so their 50% point already overloaded the machine`
        : "section 2's delivery rate at its lower concurrency") +
      `), ${s.seconds} s per point, ${s.runs} runs, against the server with its inbox as shipped; ` +
      'latency is counted from the moment each callback was due (a backlog shows as latency). Raw signal-with-start ' +
      'is offered at the same rates, in turn. Chart: [latency.svg](latency.svg).',
    '',
    '![latency against offered rate](latency.svg)',
    '',
    table(
      [
        'offered',
        'rate /s',
        'achieved /s',
        'HTTP p50 ms',
        'HTTP p99 ms',
        'non-2xx',
        'raw p50 ms',
        'raw p99 ms',
      ],
      s.points.map((p) => [
        `${(p.fraction * 100).toFixed(0)}%`,
        p.rate.toFixed(0),
        formatSpread(p.achieved, 0),
        formatSpread(p.p50, 1),
        formatSpread(p.p99, 1),
        p.non2xx,
        formatSpread(p.raw.p50, 1),
        formatSpread(p.raw.p99, 1),
      ]),
    ),
    '',
  ];
}

export function findings(s: SweepResult): string[] {
  const half = halfRate(s);
  if (!half) return [];
  return [
    `- **p99 at half the maximum sustained rate (${half.p99.median.toFixed(1)} ms through HTTP, target ≤ ` +
      `${TARGETS.p99AckMs} ms ${half.p99.median <= TARGETS.p99AckMs ? 'met' : 'missed'}).** With the inbox the ` +
      'acknowledgement waits for the PostgreSQL commit of the entry, not for Temporal; raw signal-with-start offered ' +
      `at the same ${half.rate.toFixed(0)}/s has p50 ${half.raw.p50.median.toFixed(1)} ms and p99 ` +
      `${half.raw.p99.median.toFixed(1)} ms, the acknowledgement p50 ${half.p50.median.toFixed(1)} ms.` +
      nearHalfHandOff(s),
  ];
}
