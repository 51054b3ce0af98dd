/**
 * 5. Memory: the worker's RSS (a child process) holding running lifecycles: as shipped (plain
 * bundle, WORKER_MAX_CACHED_WORKFLOWS unset, the image's MALLOC_ARENA_MAX), before (the SDK's
 * default cache; glibc's default arenas), and a tracing worker (tracing bundle, tracing on). The
 * shipped population also serves section 4.
 */
import type { BenchEnv } from '../lib/bench-env';
import { count, duration, kib, mb, met, mib, table, type SummaryRow } from '../lib/markdown';
import { sdkDefaultCache, startPopulation, type MemoryRun, type Population } from '../lib/population';
import { CONCURRENCY, RSS_SAMPLES, RSS_SETTLE_SECONDS } from '../lib/run-context';
import { formatSpread, spread } from '../lib/stats';
import { TARGETS } from '../lib/targets';

export interface MemoryResults {
  /** After: the worker as shipped (plain bundle, tracing off, WORKER_MAX_CACHED_WORKFLOWS unset). */
  shipped: MemoryRun;
  /** Before: the same, with WORKER_MAX_CACHED_WORKFLOWS set to the SDK's own default (the old cache). */
  sdkDefault: MemoryRun;
  /** A tracing worker: the tracing bundle, tracing on, WORKER_MAX_CACHED_WORKFLOWS unset. */
  tracing: MemoryRun;
  /**
   * The worker as shipped but without the image's MALLOC_ARENA_MAX (glibc's default arenas); absent
   * in runs from before the image set it.
   */
  defaultArenas?: MemoryRun;
  /** MALLOC_ARENA_MAX as the Dockerfile sets it, which every other worker here ran with. */
  mallocArenaMax?: string;
  /** The SDK's default maxCachedWorkflows for a worker process here, and the V8 heap limit it comes from. */
  sdkDefaultCache: { cacheSize: number; heapLimitMiB: number };
  /** What the tracing worker exported to the bench's OTLP collector (which discards it). */
  traceExports: { requests: number; bytes: number };
  /** Start callbacks in flight while the populations were started. */
  concurrency: number;
  rssSamples: number;
  /** The settled samples came this long after the last registration; absent in runs from before. */
  rssSettleSeconds?: number;
  /** The workers ran compiled (`node <outDir>/src/main/worker.js`); absent in runs from before: tsx. */
  compiledWorker?: boolean;
}

/** `onShipped`: what else runs on the shipped population before it is stopped (section 4). */
export async function measure(
  env: BenchEnv,
  onShipped?: (p: Population) => Promise<void>,
): Promise<MemoryResults> {
  const { sizes, log, stack } = env;
  const sdkCache = sdkDefaultCache();
  const populate = async (
    opts: Omit<Parameters<typeof startPopulation>[1], 'restart'>,
    then?: (p: Population) => Promise<void>,
  ) => {
    const p = await startPopulation(env, { ...opts, restart: then !== undefined });
    try {
      await then?.(p);
      return p.memory;
    } finally {
      await p.close();
    }
  };
  log(
    `5a. a tracing worker (tracing bundle, tracing on, default cache) holding ${sizes.tracing.n} running lifecycles`,
  );
  const tracing = await populate({
    queue: 'bench-tracing',
    appId: '800700',
    population: sizes.tracing.n,
    bundle: 'tracing',
  });
  const traceExports = stack.traceExports();
  log(`  the tracing worker exported ${traceExports.requests} OTLP requests, ${traceExports.bytes} bytes`);
  log(
    `${onShipped ? '4+' : ''}5b. after: the worker as shipped holding ${sizes.memory.n} running lifecycles` +
      (onShipped ? `, then ${sizes.e2e.runs} × ${sizes.e2e.n} of them stopped → billing finalized` : ''),
  );
  const shipped = await populate(
    { queue: 'bench-lifecycles', appId: '800900', population: sizes.memory.n, bundle: 'plain' },
    onShipped,
  );
  log(
    `5c. before: the SDK's default cache (${sdkCache.cacheSize}, from a V8 heap limit of ` +
      `${sdkCache.heapLimitMiB.toFixed(0)} MiB), ${sizes.memory.n} running lifecycles`,
  );
  const sdkDefault = await populate({
    queue: 'bench-sdk-cache',
    appId: '800800',
    population: sizes.memory.n,
    bundle: 'plain',
    env: { WORKER_MAX_CACHED_WORKFLOWS: String(sdkCache.cacheSize) },
  });
  const { mallocArenaMax } = stack;
  let defaultArenas: MemoryRun | undefined;
  if (mallocArenaMax) {
    log(
      `5d. before: the worker as shipped but with glibc's default malloc arenas (the image sets ` +
        `MALLOC_ARENA_MAX=${mallocArenaMax}), ${sizes.memory.n} running lifecycles`,
    );
    defaultArenas = await populate({
      queue: 'bench-default-arenas',
      appId: '800600',
      population: sizes.memory.n,
      bundle: 'plain',
      env: { MALLOC_ARENA_MAX: undefined },
    });
  }
  return {
    shipped,
    sdkDefault,
    tracing,
    ...(defaultArenas ? { defaultArenas, mallocArenaMax } : {}),
    sdkDefaultCache: sdkCache,
    traceExports,
    concurrency: CONCURRENCY,
    rssSamples: RSS_SAMPLES,
    rssSettleSeconds: RSS_SETTLE_SECONDS,
    compiledWorker: true,
  };
}

/** Lifecycles a worker held in its cache: those it registered, at most its cache size. */
export function cachedOf(m: MemoryRun): number {
  const held = m.crash ? Math.max(0, m.crash.registered) : m.running;
  return Math.max(1, Math.min(held, Number.isFinite(m.cacheSize) ? m.cacheSize : held));
}
/** The RSS holding them (for a worker that crashed: just before). */
const rssOf = (m: MemoryRun) => (m.crash ? m.crash.rssBefore : m.rss.median);
/** RSS above idle per cached lifecycle, bytes. */
const perCached = (m: MemoryRun) => (rssOf(m) - m.baselineRss) / cachedOf(m);
const rssText = (m: MemoryRun) => (m.crash ? `crashed at ${mib(m.crash.rssBefore)}` : mib(m.rss.median));
const within = (m: MemoryRun) => !m.crash && m.rss.median <= TARGETS.workerRssBytes;

export function summary(m: MemoryResults): SummaryRow[] {
  const { shipped: after, sdkDefault: before, tracing } = m;
  const target = `≤ ${mb(TARGETS.workerRssBytes)}`;
  return [
    [
      `worker RSS as shipped (cache ${count(after.cacheSize)}), ${count(after.running)} running lifecycles`,
      rssText(after),
      target,
      met(within(after)),
    ],
    ...(after.settledRss && m.rssSettleSeconds
      ? [
          [
            `the same worker ${m.rssSettleSeconds} s after its last registration, idle (reported beside the judged figure above)`,
            mib(after.settledRss.median),
            target,
            '',
          ] as SummaryRow,
        ]
      : []),
    [
      `before: the same with the SDK's default cache (${count(before.cacheSize)}), ${count(before.running)} running lifecycles`,
      rssText(before),
      target,
      met(within(before)),
    ],
    ...(m.defaultArenas
      ? [
          [
            `before: the same as shipped with glibc's default malloc arenas (no MALLOC_ARENA_MAX=${m.mallocArenaMax}), ${count(m.defaultArenas.running)} running lifecycles`,
            rssText(m.defaultArenas),
            target,
            met(within(m.defaultArenas)),
          ] as SummaryRow,
        ]
      : []),
    [
      `tracing worker (tracing bundle, cache ${count(tracing.cacheSize)}), ${count(tracing.running)} running lifecycles`,
      `${rssText(tracing)}, ${kib(perCached(tracing))} KiB per cached lifecycle`,
      'survives',
      met(!tracing.crash),
    ],
  ];
}

/** How long the two big populations took to start and register (they dominate a full run). */
export function populationTimes(m: MemoryResults): string {
  const big = [m.shipped, m.sdkDefault, ...(m.defaultArenas ? [m.defaultArenas] : [])];
  return (
    ` Section 5's ${big.length === 2 ? 'two' : 'three'} populations of ${count(m.shipped.lifecycles)} running ` +
    `lifecycles (after and before) took ${big
      .map((w) => duration(w.registerSeconds))
      .join(', ')
      .replace(/, ([^,]*)$/, ' and $1')} ` +
    'of it to start and register; they dominate the full run.'
  );
}

export function render(m: MemoryResults): string[] {
  const rows: [string, MemoryRun][] = [
    ['after: as shipped', m.shipped],
    ["before: the SDK's default cache", m.sdkDefault],
    ...(m.defaultArenas ? [["before: glibc's default arenas", m.defaultArenas] as [string, MemoryRun]] : []),
    ['tracing on', m.tracing],
  ];
  return [
    '## 5. Memory',
    '',
    'What changed: the OpenTelemetry workflow interceptors (`WORKFLOW_INTERCEPTOR_MODULES`) are bundled only for ' +
      'a tracing worker (`bundleLifecycleWorkflows({ tracing: true })`; `npm run build` writes ' +
      '`dist/workflow-bundle.js` and `dist/workflow-bundle.tracing.js`, and the worker loads the one matching its ' +
      `tracing setting), and \`WORKER_MAX_CACHED_WORKFLOWS\` (default ${count(m.shipped.cacheSize)}, as the shipped ` +
      "worker logged it) sets the size of the workflow cache, which was the SDK's default. Before and after are " +
      'measured in this same run.',
    '',
    'Each measurement: a fresh worker process (and server) on its own task queue' +
      (m.compiledWorker
        ? ' (the worker compiled by `tsc -p tsconfig.build.json` and run with plain node, as the Dockerfile runs ' +
          "`node dist/src/main/worker.js`; under tsx its RSS would also hold tsx's loader thread and transpile cache)"
        : ' (the worker run from source with tsx)') +
      '; lifecycles started through ' +
      `\`POST /zego/callback\` (one start callback each, no stop, ${m.concurrency} in flight) until the worker has ` +
      `registered all of them; then the RSS of the worker process alone, from /proc, sampled ${m.rssSamples} times a ` +
      'second apart' +
      (m.rssSettleSeconds
        ? `, and the same ${m.rssSettleSeconds} s after the last registration, the worker idle (by then V8 has ` +
          'returned most of the garbage the registrations left; the samples right after them also hold it, and swing ' +
          'with how fast the starts came). The target is judged on the first samples: a memory limit has to hold them'
        : '') +
      '. The cache and tracing columns are what the worker logged at start.',
    '',
    `- **after: as shipped**: the workflow bundle without the interceptors, tracing off, \`WORKER_MAX_CACHED_WORKFLOWS\` unset` +
      (m.mallocArenaMax
        ? `, \`MALLOC_ARENA_MAX=${m.mallocArenaMax}\` as the Dockerfile sets it (so do the other rows but one).`
        : '.'),
    ...(m.defaultArenas
      ? [
          "- **before: glibc's default arenas**: the worker as shipped without `MALLOC_ARENA_MAX` (glibc then " +
            'makes up to eight malloc arenas per core, and each thread keeps what it freed in its own).',
        ]
      : []),
    `- **before: the SDK's default cache**: the same worker with \`WORKER_MAX_CACHED_WORKFLOWS=${m.sdkDefaultCache.cacheSize}\`, ` +
      'what the SDK picks when none is given, from the V8 heap limit of a worker process here ' +
      `(${m.sdkDefaultCache.heapLimitMiB.toFixed(0)} MiB → max(⌊(heap − 200) × 600 / 1024⌋, 10)): the cache the worker had before. ` +
      '(Its bundle then also carried the interceptors; the tracing row measures a worker with them.)',
    `- **tracing on**: the tracing bundle, tracing on (OTLP over HTTP to a collector in the bench process that ` +
      `discards the spans: ${count(m.traceExports.requests)} export requests, ${kib(m.traceExports.bytes)} KiB), ` +
      '`WORKER_MAX_CACHED_WORKFLOWS` unset.',
    '',
    table(
      [
        'worker',
        'cache',
        'tracing',
        'lifecycles started',
        'running (visibility)',
        'registered after',
        'idle RSS',
        'RSS holding them',
        ...(m.rssSettleSeconds ? [`${m.rssSettleSeconds} s later, idle`] : []),
        'peak RSS',
        'KiB per cached lifecycle',
      ],
      rows.map(([label, w]) => [
        label,
        count(w.cacheSize),
        w.tracing,
        `${count(w.lifecycles)} at ${w.startRate.toFixed(0)}/s`,
        count(w.running),
        w.crash ? 'crashed' : `${w.registerSeconds.toFixed(0)} s`,
        mib(w.baselineRss),
        w.crash
          ? `${mib(w.crash.rssBefore)} before it crashed`
          : formatSpread(spread(w.rss.runs.map((x) => x / 2 ** 20)), 0, ' MiB'),
        ...(m.rssSettleSeconds
          ? [w.settledRss ? formatSpread(spread(w.settledRss.runs.map((x) => x / 2 ** 20)), 0, ' MiB') : '—']
          : []),
        mib(w.peakRss),
        `${kib(perCached(w))} (${count(cachedOf(w))} cached)`,
      ]),
    ),
    '',
    ...rows
      .filter(([, w]) => w.crash)
      .map(
        ([label, w]) =>
          `The worker "${label}" **crashed** after ${count(w.crash?.registered ?? 0)} lifecycles had been ` +
          `registered (RSS ${mib(w.crash?.rssBefore ?? 0)} just before): \`${(w.crash?.error ?? '').replace(/`/g, "'")}\`.\n`,
      ),
    'KiB per cached lifecycle: the RSS above idle divided by the lifecycles in the cache (those registered, at most ' +
      'the cache size); it also counts what the worker allocated besides the cache, which weighs more with a small ' +
      'cache. The worker keeps at most `maxCachedWorkflows` workflows in memory; the others wait in ' +
      'Temporal and are replayed from history when a callback arrives, so without a leak the RSS is bounded by the ' +
      'cache, not by the number of running lifecycles.',
    '',
  ];
}

export function findings(m: MemoryResults): string[] {
  const { shipped: after, sdkDefault: before, tracing, traceExports } = m;
  const limit = mb(TARGETS.workerRssBytes);
  const perBefore = perCached(before);
  const perAfter = perCached(after);
  /** The cache that keeps a worker like `w` under the target by a linear estimate from its row. */
  const cacheForTarget = (w: MemoryRun) =>
    count(Math.max(0, Math.floor((TARGETS.workerRssBytes - w.baselineRss) / perCached(w) / 10) * 10));
  const perTracing = perCached(tracing);
  const arenas = m.defaultArenas;
  const later = m.rssSettleSeconds === 60 ? 'a minute' : `${m.rssSettleSeconds ?? '?'} s`;
  const settled = (w: MemoryRun) => (w.settledRss ? `, ${mib(w.settledRss.median)} ${later} later` : '');
  return [
    ...(arenas
      ? [
          `- **glibc's malloc arenas (the image sets \`MALLOC_ARENA_MAX=${m.mallocArenaMax}\`).** The same population, ` +
            `the same worker: with glibc's default arenas ${rssText(arenas)} right after the registrations` +
            `${settled(arenas)} (peak ${mib(arenas.peakRss)}); with ${m.mallocArenaMax} arenas ${rssText(after)}` +
            `${settled(after)} (peak ${mib(after.peakRss)}): ${(rssOf(arenas) / rssOf(after)).toFixed(2)}× as much ` +
            'without it. What the arenas hold is memory the worker freed and glibc kept; V8 heaps are not in it. ' +
            `End to end (section 4) ran on the shipped worker, with ${m.mallocArenaMax} arenas.`,
        ]
      : []),
    `- **Worker memory as shipped (${rssText(after)} holding ${count(after.running)} running lifecycles, target ` +
      `≤ ${limit} ${within(after) ? 'met' : 'missed'}).** The workflow interceptors are now only in a tracing worker's ` +
      `bundle, and \`WORKER_MAX_CACHED_WORKFLOWS\` (default ${count(after.cacheSize)}) caps the workflow cache, which ` +
      `was the SDK's default from the V8 heap limit (${count(before.cacheSize)} here). On the same population in the ` +
      `same run: before ${rssText(before)} (${kib(perBefore)} KiB per cached lifecycle, ${count(cachedOf(before))} ` +
      `cached), after ${rssText(after)} (${kib(perAfter)} KiB per cached lifecycle, ${count(cachedOf(after))} cached), ` +
      `${(rssOf(before) / rssOf(after)).toFixed(1)}× less. The RSS grows with the cache, not with the number of ` +
      'running lifecycles (evicted ones are replayed from their short history when their next callback arrives); ' +
      `by a linear estimate from the before row a cache of about ${cacheForTarget(before)} would keep the worker under ${limit}.` +
      (after.settledRss && m.rssSettleSeconds
        ? ` ${m.rssSettleSeconds} s after its last registration, idle, the same worker held ` +
          `${mib(after.settledRss.median)} (peak ${mib(after.peakRss)})` +
          (after.settledRss.median < after.rss.median * 0.95
            ? ': the rest of the first figure was garbage of the registrations that V8 had not returned yet.'
            : ', about as much as right after them.')
        : ''),
    `- **A tracing worker (${tracing.crash ? `crashed after ${count(tracing.crash.registered)} registered lifecycles` : `survived ${count(tracing.running)} running lifecycles`}, ` +
      `${mib(rssOf(tracing))}).** With tracing on it loads the tracing bundle, which carries the OpenTelemetry ` +
      `workflow interceptors: ${kib(perTracing)} KiB per cached lifecycle, ${(perTracing / perAfter).toFixed(1)}× the ` +
      `plain bundle's at ${tracing.cacheSize === after.cacheSize ? 'the same' : 'its'} cache (after row). The cache ` +
      `bounds it: ${count(cachedOf(tracing))} cached (cache ${count(tracing.cacheSize)}), ${mib(rssOf(tracing))}, ` +
      `${rssOf(tracing) <= TARGETS.workerRssBytes ? 'within' : 'over'} ${limit}; by a linear estimate a cache of about ` +
      `${cacheForTarget(tracing)} would keep a tracing worker under ${limit}, and with the SDK's default cache ` +
      `(${count(before.cacheSize)}) it would take ${mib(tracing.baselineRss + perTracing * before.cacheSize)}. ` +
      `Tracing was on: the worker logged tracing \`${tracing.tracing}\` and sent ${count(traceExports.requests)} OTLP ` +
      `export requests (${kib(traceExports.bytes)} KiB) to the bench's collector.`,
  ];
}
