/**
 * 3. Acknowledgement latency against offered rate (open loop) at fractions of the maximum sustained
 * rate, with raw signal-with-start and PostgreSQL's own commit (a 400-byte upsert, the floor under
 * a durable acknowledgement) offered at the same rates, in turn; the chart latency.svg.
 *
 * The maximum sustained rate is section 2's billed rate: callbacks until the worker has billed their
 * lifecycles, what the whole stack keeps up with indefinitely. (Runs before 2026-12-03 took section
 * 2's delivery rate, the relay's hand-off into Temporal, which the worker cannot keep up with: their
 * 50% point already overloaded the machine. That rate is kept beside, as `handOffRate`.)
 */
import { Pool } from 'pg';
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
  /**
   * A bare PostgreSQL commit (the callback's body upserted into a table of its own, from the bench
   * process) at the same rate, in turn: what a durable acknowledgement cannot beat on this machine.
   * Absent in results before it was measured.
   */
  commit?: { p50: Spread; p99: Spread };
  /**
   * The 50% point only: the same commit with `synchronous_commit = off` (no wait for the WAL
   * fsync; not what the inbox may do, it would lose acknowledged callbacks in a crash): tells how
   * much of the commit's tail is the disk.
   */
  commitNoFsyncWait?: { p50: Spread; p99: Spread };
  /** Callbacks per run at this point. */
  samples?: number;
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
  return { maxRate: (p.billed ?? p.delivery).median, handOffRate: p.delivery.median };
}

export async function measure(
  env: BenchEnv,
  { maxRate, handOffRate }: { maxRate: number; handOffRate?: number },
): Promise<SweepResult> {
  const { stack, traffic, log } = env;
  const { fractions, seconds, runs, targetSamples } = env.sizes.sweep;
  const gateway = stack.gateway(MAIN_QUEUE);
  if (stack.database.kind !== 'postgres') throw new Error('section 3 needs PostgreSQL (TEST_POSTGRES_URL)');
  const commitPool = new Pool({ connectionString: stack.database.url, max: 20 });
  const noFsyncWaitPool = new Pool({
    connectionString: stack.database.url,
    max: 20,
    options: '-c synchronous_commit=off',
  });
  await commitPool.query('CREATE TABLE IF NOT EXISTS bench_commit (k text PRIMARY KEY, v jsonb NOT NULL)');
  const server = await stack.startServer(MAIN_QUEUE, { name: 'sweep' });
  const poster = new HttpPoster(`${server.url}/zego/callback`, MAX_IN_FLIGHT);
  const blank = () => ({ achieved: [] as number[], p50: [] as number[], p99: [] as number[], non2xx: 0 });
  const http = fractions.map(blank);
  const raw = fractions.map(blank);
  const commit = fractions.map(blank);
  const noFsyncWait = blank();
  const rateAt = (fraction: number) => Math.max(1, maxRate * fraction);
  const samplesAt = (fraction: number) =>
    Math.max(20, Math.round(rateAt(fraction) * seconds), fraction === 0.5 ? targetSamples : 0);
  const record = (into: ReturnType<typeof blank>, res: LoadResult) => {
    into.achieved.push(res.throughput);
    into.p50.push(percentile(res.latenciesMs, 0.5));
    into.p99.push(percentile(res.latenciesMs, 0.99));
    into.non2xx += res.operations - res.ok;
  };
  try {
    for (let r = 0; r < runs; r++) {
      for (const [k, fraction] of fractions.entries()) {
        const rate = rateAt(fraction);
        const n = samplesAt(fraction);
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
        const commitSide = (pool: Pool, into: ReturnType<typeof blank>, tag: string) => async () => {
          const bodies = traffic.block('800009', `swc-${r}-${k}`, n).map((c) => c.body);
          await traffic.settle(60_000);
          const res = await openLoop(bodies.length, rate, MAX_IN_FLIGHT, async (i) => {
            await pool.query(
              'INSERT INTO bench_commit (k, v) VALUES ($1, $2::jsonb) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v',
              [`${tag}-${r}-${k}-${i}`, JSON.stringify({ body: bodies[i] })],
            );
            return 'ok';
          });
          record(into, res);
        };
        await inTurn(
          r + k,
          runHttp,
          runRaw,
          commitSide(commitPool, commit[k], 'sync'),
          ...(fraction === 0.5 ? [commitSide(noFsyncWaitPool, noFsyncWait, 'nosync')] : []),
        );
        log(
          `  run ${r + 1}/${runs} ${(fraction * 100).toFixed(0)}% (${rate.toFixed(0)}/s): HTTP p50 ${http[k].p50.at(-1)?.toFixed(1)} ms,` +
            ` p99 ${http[k].p99.at(-1)?.toFixed(1)} ms; raw p50 ${raw[k].p50.at(-1)?.toFixed(1)} ms, p99 ${raw[k].p99.at(-1)?.toFixed(1)} ms;` +
            ` commit p50 ${commit[k].p50.at(-1)?.toFixed(1)} ms, p99 ${commit[k].p99.at(-1)?.toFixed(1)} ms`,
        );
      }
    }
  } finally {
    poster.close();
    await server.child.kill();
    await commitPool.query('DROP TABLE IF EXISTS bench_commit').catch(() => undefined);
    await commitPool.end();
    await noFsyncWaitPool.end();
  }
  return {
    maxRate,
    ...(handOffRate != null ? { handOffRate } : {}),
    seconds,
    runs,
    points: fractions.map((fraction, k) => ({
      fraction,
      rate: rateAt(fraction),
      achieved: spread(http[k].achieved),
      p50: spread(http[k].p50),
      p99: spread(http[k].p99),
      non2xx: http[k].non2xx,
      raw: { p50: spread(raw[k].p50), p99: spread(raw[k].p99) },
      commit: { p50: spread(commit[k].p50), p99: spread(commit[k].p99) },
      samples: samplesAt(fraction),
      ...(fraction === 0.5 && noFsyncWait.p99.length > 0
        ? { commitNoFsyncWait: { p50: spread(noFsyncWait.p50), p99: spread(noFsyncWait.p99) } }
        : {}),
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
    `same rate: p99 ${half.raw.p99.median.toFixed(1)} ms` +
    (half.commit
      ? `; a bare PostgreSQL commit at that rate: p99 ${half.commit.p99.median.toFixed(1)} ms`
      : '') +
    '.' +
    nearHalfHandOff(s)
  );
}

export function summary(s: SweepResult): SummaryRow[] {
  const half = halfRate(s);
  return [
    [
      `p99 ack at half the maximum sustained rate (${half?.rate.toFixed(0)}/s; raw signal-with-start's p99 at that rate ` +
        `${half ? `${half.raw.p99.median.toFixed(1)} ms` : 'n/a'}` +
        (half?.commit ? `, a bare PostgreSQL commit's ${half.commit.p99.median.toFixed(1)} ms` : '') +
        ')',
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
      ...(s.points.every((p) => p.commit)
        ? [
            {
              name: 'PostgreSQL commit p99',
              color: '#7f7f7f',
              dashed: true,
              points: pts((p) => p.commit?.p99 ?? p.p99),
            },
          ]
        : []),
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
      "and a bare PostgreSQL commit (each callback's body upserted into a table of its own from the bench process, " +
      'with the durability the inbox has: the floor under an acknowledgement given after a commit) are offered at ' +
      `the same rates, in turn. The 50% point takes at least ${s.points.find((p) => p.fraction === 0.5)?.samples ?? 'n/a'} ` +
      'callbacks per run, so that its p99 is not simply its slowest answer. Chart: [latency.svg](latency.svg).',
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
        'commit p50 ms',
        'commit p99 ms',
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
        p.commit ? formatSpread(p.commit.p50, 1) : '',
        p.commit ? formatSpread(p.commit.p99, 1) : '',
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
      (half.commit
        ? ` A bare PostgreSQL commit offered at the same rate (nothing else of the service in it) has p50 ` +
          `${half.commit.p50.median.toFixed(1)} ms and p99 ${half.commit.p99.median.toFixed(1)} ms: ` +
          (half.commit.p99.median > TARGETS.p99AckMs
            ? `on this machine the durable commit alone is over the ${TARGETS.p99AckMs} ms target at p99, so no ` +
              'acknowledgement given after a commit can meet it here.'
            : `the service adds ${(half.p99.median - half.commit.p99.median).toFixed(1)} ms at p99 over it.`) +
          (half.commitNoFsyncWait
            ? ` The same commit without waiting for the WAL fsync (synchronous_commit = off, which the inbox must ` +
              `not use: a crash would lose acknowledged callbacks) has p99 ` +
              `${half.commitNoFsyncWait.p99.median.toFixed(1)} ms; the difference is the wait for the WAL fsync.`
            : '')
        : '') +
      nearHalfHandOff(s),
  ];
}
