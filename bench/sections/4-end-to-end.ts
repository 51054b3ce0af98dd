/**
 * 4. End to end, on section 5's shipped population: run after run the stops of some of its
 * lifecycles are posted and timed to billing finalized, in turn with the dev server's raw
 * workflow-completion throughput (`benchTrivial` on the same worker and task queue).
 */
import { waitForCount } from '../../tools/process/poll';
import { searchAttributes } from '../../workflows/definitions';
import type { BenchEnv } from '../lib/bench-env';
import { closedLoop, inTurn } from '../lib/load';
import { count, table, type SummaryRow } from '../lib/markdown';
import type { MemoryRun, Population } from '../lib/population';
import { CONCURRENCY } from '../lib/run-context';
import { START_AGE_SECONDS, stopCallbacks } from '../lib/stack';
import { formatSpread, spread, type Spread } from '../lib/stats';
import type { PairResult } from './2-throughput';

export interface E2eResult {
  n: number;
  concurrency: number;
  lifecycles: Spread;
  trivial: Spread;
  ratio: Spread;
  stopIngest: Spread;
  billedCorrectly: boolean[];
}

/** The minutes every bench lifecycle bills: START_AGE_SECONDS between its start and its stop. */
const BILLED_MINUTES = START_AGE_SECONDS / 60;

export async function measure(env: BenchEnv, p: Population): Promise<E2eResult> {
  const { stack, log } = env;
  const { n, runs } = env.sizes.e2e;
  const lifecycleRates: number[] = [];
  const trivialRates: number[] = [];
  const stopIngest: number[] = [];
  const billed: boolean[] = [];
  const runLifecycles = async (r: number) => {
    const stops = stopCallbacks(p.appId, 'life', n, { from: r * n, startNowSeconds: p.nowSeconds });
    const tasks = Array.from({ length: n }, (_, i) => `life-${r * n + i}`);
    const t = Date.now();
    const acked = await closedLoop(n, CONCURRENCY, (i) => p.poster.post(stops[i].body, stops[i].contentType));
    stopIngest.push(acked.throughput);
    const sql = 'SELECT count(*)::int AS n FROM billing_ledger WHERE app_id = $1 AND task_id = ANY($2)';
    const got = await waitForCount(() => p.count(sql, [p.appId, tasks]), n, 300_000, 100);
    if (got < n) throw new Error(`e2e: only ${got}/${n} lifecycles billed after 300 s`);
    lifecycleRates.push(n / ((Date.now() - t) / 1000));
    const ok = await p.count(`${sql} AND status = 'finalized' AND billable_minutes = ${BILLED_MINUTES}`, [
      p.appId,
      tasks,
    ]);
    billed.push(ok === n);
  };
  const runTrivial = async (r: number) => {
    const tag = `trivial-${r}-${Date.now()}`;
    const t = Date.now();
    await closedLoop(n, CONCURRENCY, async (i) => {
      await stack.client.workflow.start('benchTrivial', {
        workflowId: `${tag}-${i}`,
        taskQueue: p.queue,
        args: [],
        typedSearchAttributes: [{ key: searchAttributes.appId, value: tag }],
      });
      return 'ok';
    });
    const done = async () =>
      (await stack.client.workflow.count(`ZegoAppId = '${tag}' AND ExecutionStatus = 'Completed'`)).count;
    const got = await waitForCount(done, n, 300_000, 200);
    if (got < n) throw new Error(`trivial: only ${got}/${n} completed after 300 s`);
    trivialRates.push(n / ((Date.now() - t) / 1000));
  };
  for (let r = 0; r < runs; r++) {
    await inTurn(
      r,
      () => runLifecycles(r),
      () => runTrivial(r),
    );
    log(
      `  run ${r + 1}/${runs}: ${lifecycleRates[r].toFixed(0)} lifecycles/s, trivial ${trivialRates[r].toFixed(0)} workflows/s`,
    );
  }
  return {
    n,
    concurrency: CONCURRENCY,
    lifecycles: spread(lifecycleRates),
    trivial: spread(trivialRates),
    ratio: spread(lifecycleRates.map((l, i) => l / trivialRates[i])),
    stopIngest: spread(stopIngest),
    billedCorrectly: billed,
  };
}

export function summary(e: E2eResult): SummaryRow[] {
  return [
    [
      `end to end: lifecycles/s (${e.n} stops → billing finalized)`,
      `${formatSpread(e.lifecycles, 0, '/s')}, ${formatSpread(e.ratio, 2)} of the trivial-workflow rate`,
      'reported',
      '',
    ],
  ];
}

export function render(e: E2eResult, population: MemoryRun | undefined): string[] {
  return [
    '## 4. End to end',
    '',
    `On the population of section 5's shipped worker (${count(population?.running ?? NaN)} running lifecycles, a ` +
      `fresh worker and server on their own task queue), run after run the stop callbacks of ${count(e.n)} ` +
      `of them are posted (closed loop, ${e.concurrency} in flight) and the clock runs until the last of those has its ledger row ` +
      "(billing finalized, counted in PostgreSQL). The baseline is the dev server's raw workflow-completion " +
      `throughput: ${count(e.n)} \`benchTrivial\` workflows (no activity) started by a plain client, ` +
      `${e.concurrency} in flight, on the same worker process and task queue, until visibility counts them all completed; the ` +
      'two alternate.',
    '',
    table(
      ['', 'per second'],
      [
        ['lifecycles: stop callback → billing finalized', formatSpread(e.lifecycles, 0)],
        ['trivial workflows: started → completed', formatSpread(e.trivial, 0)],
        ['ratio lifecycles / trivial', formatSpread(e.ratio, 2)],
        ['stop callbacks acknowledged (during the same runs)', formatSpread(e.stopIngest, 0)],
      ],
    ),
    '',
    `Every run billed every lifecycle once, at the expected ${BILLED_MINUTES} minutes: ${e.billedCorrectly.every(Boolean) ? 'yes' : 'NO'}.`,
    '',
  ];
}

export function findings(e: E2eResult, population: MemoryRun, pairs: PairResult | null): string[] {
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  return [
    `- **End to end (${e.lifecycles.median.toFixed(0)} lifecycles/s, ${e.ratio.median.toFixed(2)} of the trivial ` +
      'workflow).** A lifecycle is far more work for Temporal and the worker than a trivial workflow: its start and ' +
      'stop each take a workflow task, settling takes activities (registry cleanup, ledger, alert when ' +
      "aborted) plus the follow-ups' local activity and their workflow tasks, and closing takes the linger timer" +
      (pairs
        ? `; section 2 measured ${(2 * total(pairs.cpuPerOp.raw)).toFixed(0)} ms of CPU per lifecycle (two callbacks) over all processes. `
        : '. ') +
      `Here the stops also land on a worker holding ${count(population.running)} running lifecycles with ` +
      `a cache of ${count(population.cacheSize)}: most of them were evicted and are replayed first. ` +
      'The throughput is bounded by the CPU of the dev server and the worker, not by the HTTP ingest (the stop ' +
      `callbacks themselves were acknowledged at ${e.stopIngest.median.toFixed(0)}/s).`,
  ];
}
