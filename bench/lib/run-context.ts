/**
 * What a run is: its sizes (per `--quick` or full), the concurrency levels, and the machine and
 * commit it ran on. Saved in results.json, so RESULTS.md re-rendered from it (`--render`) states
 * the numbers of the run that measured the figures.
 */

/** Closed-loop requests in flight, as ZEGO's side of most measurements. */
export const CONCURRENCY = 20;
/** Section 2 again with enough in flight to saturate the machine: throughput is then bounded by CPU, not latency. */
export const SATURATING_CONCURRENCY = 100;
/** Section 5: RSS samples of a worker holding its population, a second apart. */
export const RSS_SAMPLES = 5;
/**
 * Section 5: the RSS samples again this long after the last registration, the worker idle. V8
 * returns the garbage of the registrations (its memory reducer) within about a minute, so this is
 * what the worker keeps holding its population; the samples right after registration also hold
 * that garbage, and swing with how fast the starts came.
 */
export const RSS_SETTLE_SECONDS = 60;

export function sizesFor(quick: boolean) {
  return quick
    ? {
        verify: { iterations: 5_000, runs: 3 },
        pairs: { runs: 3, n: 200 },
        sweep: { fractions: [0.25, 0.5, 1], seconds: 3, runs: 2, targetSamples: 200 },
        burst: { n: 1_000, concurrency: 200 },
        e2e: { n: 200, runs: 2 },
        memory: { n: 1_000 },
        tracing: { n: 300 },
        profile: { n: 200 },
        dev: { n: 120 },
      }
    : {
        verify: { iterations: 5_000, runs: 7 },
        pairs: { runs: 4, n: 400 },
        // The 50% point (the target's) gets at least targetSamples per run, so its p99 is not the max.
        sweep: { fractions: [0.25, 0.5, 0.75, 1, 1.25], seconds: 4, runs: 2, targetSamples: 600 },
        burst: { n: 5_000, concurrency: 200 },
        e2e: { n: 1_000, runs: 2 },
        memory: { n: 10_000 },
        tracing: { n: 1_000 },
        profile: { n: 500 },
        dev: { n: 250 },
      };
}

export type Sizes = ReturnType<typeof sizesFor>;

export const ALL_SECTIONS = [1, 2, 3, 4, 5, 6, 7, 8];

export interface Context {
  date: string;
  quick: boolean;
  /** The sections measured. */
  sections: number[];
  sizes: Sizes;
  concurrency: number;
  saturatingConcurrency: number;
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  temporal: string;
  commit: string;
  loadBefore: number[];
  loadAfter: number[];
  minutes: number;
  /** Figures of the results.json this run replaced, for before/after rows (null: none there). */
  previous: PreviousRun | null;
}

/** What the summary quotes from the run before this one. */
export interface PreviousRun {
  commit: string;
  date: string;
  /** The HTTP server's CPU per callback in section 2 at CONCURRENCY in flight, ms. */
  serverCpuPerCallbackMs: number | null;
  /** The same process's CPU per callback while the bench's bare client sent raw signal-with-start, ms. */
  serverCpuPerRawCallbackMs: number | null;
}

/** The command that produced a run, as RESULTS.md quotes it. */
export function commandOf(ctx: Pick<Context, 'quick' | 'sections'>): string {
  const partial = ctx.sections.length < ALL_SECTIONS.length;
  const flags = [ctx.quick ? '--quick' : '', partial ? `--only ${ctx.sections.join(',')}` : ''].filter(
    Boolean,
  );
  return flags.length ? `npm run bench -- ${flags.join(' ')}` : 'npm run bench';
}
