/**
 * `npm run bench [-- --quick] [-- --only 2,3] [-- --render results.json]`: every figure of
 * bench/RESULTS.md, measured in one run against one Temporal dev server, and the chart
 * bench/latency.svg. One module per section (bench/sections/<n>-<name>.ts: measure, render); this
 * file runs them in order, bench/report.ts writes the results.
 *
 *  1. verify-and-parse (readCallback) per callback in isolation;
 *  2. throughput: raw signal-with-start, the server with its inbox (acknowledged and delivered) and
 *     in direct mode, same callbacks and concurrency, in turn; CPU per callback of each process;
 *  3. acknowledgement latency against offered rate (open loop), the chart;
 *  4. end to end: lifecycles from their stop callbacks to billing finalized, vs trivial workflows;
 *  5. memory: the worker's RSS holding running lifecycles (as shipped, the SDK's default cache, tracing);
 *  6. where the HTTP server's CPU goes (a --cpu-prof of it under load);
 *  7. `npm run dev`: its inbox against the direct hand-off, and one change at a time;
 *  8. a burst, acknowledged while Temporal drains behind.
 *
 * `--only` brings along what a section needs (3 needs 2's sustained rate, 4 needs 5's population).
 * Only loopback traffic; every loop is bounded in count and time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchEnv } from './lib/bench-env';
import { ALL_SECTIONS, CONCURRENCY, SATURATING_CONCURRENCY, sizesFor, type Context } from './lib/run-context';
import { startStack } from './lib/stack';
import { MAIN_QUEUE, Traffic } from './lib/traffic';
import { readPreviousRun, writeOutputs, type Results } from './report';
import * as verify from './sections/1-verify';
import * as throughput from './sections/2-throughput';
import * as latency from './sections/3-latency';
import * as endToEnd from './sections/4-end-to-end';
import * as memory from './sections/5-memory';
import * as profile from './sections/6-profile';
import * as devMode from './sections/7-dev-mode';
import * as burst from './sections/8-burst';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(__dirname) },
    'skip-dev': { type: 'boolean', default: false },
    /** Comma-separated section numbers to measure (default: all). */
    only: { type: 'string' },
    /** Re-render RESULTS.md and latency.svg from a results.json, without measuring. */
    render: { type: 'string' },
  },
});
const QUICK = args.quick === true;
/** The sections to measure: --only, plus what they need. */
const SECTIONS = (() => {
  if (args.only === undefined) return ALL_SECTIONS;
  const picked = new Set(String(args.only).split(',').filter(Boolean).map(Number));
  const unknown = [...picked].filter((n) => !ALL_SECTIONS.includes(n));
  if (unknown.length > 0 || picked.size === 0)
    throw new Error(`--only ${String(args.only)}: sections are ${ALL_SECTIONS.join(', ')}`);
  if (picked.has(3)) picked.add(2);
  if (picked.has(4)) picked.add(5);
  if (args['skip-dev']) picked.delete(7);
  return ALL_SECTIONS.filter((n) => picked.has(n));
})();
const want = (section: number) => SECTIONS.includes(section);
const OUT_DIR = path.resolve(String(args.out));
const SIZES = sizesFor(QUICK);

const started = Date.now();
const log = (line: string) =>
  process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);

async function render(file: string): Promise<void> {
  const saved = JSON.parse(readFileSync(path.resolve(file), 'utf8')) as {
    context: Partial<Context>;
    results: Results;
  };
  if (!saved.context.sizes || !('sweep' in saved.results && 'burst' in saved.results))
    throw new Error(
      `${file} is from before the bench measured the inbox (sections 2, 3 and 8); measure again (npm run bench)`,
    );
  if (saved.context.quick !== QUICK)
    throw new Error(`that run was ${saved.context.quick ? '' : 'not '}--quick`);
  await writeOutputs(OUT_DIR, saved.results, saved.context as Context);
  log(`rendered ${path.join(OUT_DIR, 'RESULTS.md')} from ${file}`);
}

async function main(): Promise<void> {
  if (args.render) return render(String(args.render));
  log(
    `${QUICK ? 'quick' : 'full'} run on ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(2)}` +
      (SECTIONS.length < ALL_SECTIONS.length ? `, sections ${SECTIONS.join(', ')} only` : ''),
  );
  const loadBefore = os.loadavg();
  const previous = readPreviousRun(OUT_DIR);
  const results: Results = {
    verify: null,
    pairs: null,
    pairsSaturated: null,
    sweep: null,
    e2e: null,
    memory: null,
    profile: null,
    dev: null,
    burst: null,
  };
  if (want(1)) {
    log('1. verify-and-parse (readCallback) in isolation');
    results.verify = verify.measure(SIZES, log);
  }

  const stack = await startStack((line) => log(`  ${line}`));
  const temporal = temporalVersion(stack.cliPath);
  const env: BenchEnv = { stack, traffic: new Traffic(stack, log), sizes: SIZES, log };
  try {
    if (want(2) || want(3) || want(6) || want(8)) {
      // The main queue's worker as shipped: the plain bundle, tracing off, the default workflow cache.
      const worker = await stack.startWorker(MAIN_QUEUE);
      const mainWorker = { workerPid: worker.pid };
      if (want(2)) {
        log(
          `2. raw signal-with-start vs the inbox (acknowledged, delivered) vs direct, ${CONCURRENCY} in flight`,
        );
        results.pairs = await throughput.measure(env, { ...mainWorker, concurrency: CONCURRENCY });
        log(`2b. the same with ${SATURATING_CONCURRENCY} in flight (CPU-bound)`);
        results.pairsSaturated = await throughput.measure(env, {
          ...mainWorker,
          concurrency: SATURATING_CONCURRENCY,
        });
      }
      if (want(3) && results.pairs) {
        log('3. acknowledgement latency against offered rate (open loop)');
        results.sweep = await latency.measure(env, latency.sustainedRates(results.pairs));
      }
      if (want(8)) {
        log(
          `8. a burst of ${SIZES.burst.n} callbacks, ${SIZES.burst.concurrency} in flight, while Temporal drains`,
        );
        results.burst = await burst.measure(env);
      }
      if (want(6)) {
        log('6. where the HTTP server spends its CPU (--cpu-prof)');
        results.profile = await profile.measure(env);
      }
      await worker.kill();
    }
    if (want(5)) {
      results.memory = await memory.measure(
        env,
        want(4)
          ? async (population) => {
              results.e2e = await endToEnd.measure(env, population);
            }
          : undefined,
      );
    }
    if (want(7)) {
      log('7. `npm run dev`: the inbox vs the direct hand-off, one change at a time');
      results.dev = await devMode.measure(env);
    }
  } finally {
    await stack.close();
  }

  const context: Context = {
    date: new Date().toISOString(),
    quick: QUICK,
    sections: SECTIONS,
    sizes: SIZES,
    concurrency: CONCURRENCY,
    saturatingConcurrency: SATURATING_CONCURRENCY,
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    temporal,
    commit: gitDescribe(),
    loadBefore,
    loadAfter: os.loadavg(),
    minutes: (Date.now() - started) / 60_000,
    previous,
  };
  await writeOutputs(OUT_DIR, results, context);
  log(
    `wrote ${path.relative(process.cwd(), path.join(OUT_DIR, 'RESULTS.md'))}${results.sweep ? ' and latency.svg' : ''} in ${context.minutes.toFixed(1)} min`,
  );
}

function temporalVersion(cliPath: string): string {
  try {
    return execFileSync(cliPath, ['--version']).toString().trim();
  } catch {
    return 'temporal CLI (version unknown)';
  }
}

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: __dirname }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: __dirname })
      .toString()
      .trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
