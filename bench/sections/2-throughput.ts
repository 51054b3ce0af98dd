/**
 * 2. Throughput: raw signal-with-start from a bare client against POST /zego/callback to the server
 * with its inbox (acknowledged, and delivered: the relay's signal-with-start taken by Temporal) and
 * to the server in direct mode (no DATABASE_URL: handed to Temporal before the answer), the same
 * callbacks at the same concurrency (the relay's too), in turn; CPU per callback of each process.
 */
import os from 'node:os';
import type { BenchEnv } from '../lib/bench-env';
import { closedLoop, HttpPoster, inTurn, type LoadResult } from '../lib/load';
import { met, table, type SummaryRow } from '../lib/markdown';
import type { Context } from '../lib/run-context';
import { payloadOf } from '../lib/stack';
import { formatSpread, median, percentile, spread, type Spread } from '../lib/stats';
import { TARGETS } from '../lib/targets';
import { cpuWatch, MAIN_QUEUE } from '../lib/traffic';

export interface PairResult {
  concurrency: number;
  /** Callbacks per run and side. */
  n: number;
  runs: number;
  /** Raw signal-with-start /s. */
  raw: Spread;
  /** Inbox server: acknowledgements /s. */
  ack: Spread;
  /** Inbox server: first callback posted → last one delivered, /s. */
  delivery: Spread;
  /**
   * Inbox server: first callback posted → every lifecycle of the run billed (the worker caught up),
   * /s: what the whole stack keeps up with indefinitely. Absent in results before it was measured.
   */
  billed?: Spread;
  /** Direct server: acknowledgements (= deliveries) /s. */
  direct: Spread;
  /** Per run, over raw of the same run. */
  ackRatio: Spread;
  deliveryRatio: Spread;
  directRatio: Spread;
  rawP50: Spread;
  ackP50: Spread;
  ackP99: Spread;
  directP50: Spread;
  /** Non-2xx answers over all HTTP runs of both servers. */
  non2xx: number;
  /** CPU ms per callback (median over runs), per process, per side. */
  cpuPerOp: { raw: Record<string, number>; inbox: Record<string, number>; direct: Record<string, number> };
  loadAverage: number[];
}

const APP = { raw: '800001', inbox: '800002', direct: '800007' };

export async function measure(
  env: BenchEnv,
  opts: { concurrency: number; workerPid: number },
): Promise<PairResult> {
  const { concurrency } = opts;
  const { stack, traffic, log } = env;
  const { runs, n } = env.sizes.pairs;
  const gateway = stack.gateway(MAIN_QUEUE);
  // The relay delivers at the concurrency the raw client sends at.
  const inboxServer = await stack.startServer(MAIN_QUEUE, {
    env: { RELAY_CONCURRENCY: String(concurrency) },
    name: `inbox-c${concurrency}`,
  });
  const directServer = await stack.startServer(MAIN_QUEUE, {
    mode: 'direct',
    name: `direct-c${concurrency}`,
  });
  const inboxPoster = new HttpPoster(`${inboxServer.url}/zego/callback`, concurrency);
  const directPoster = new HttpPoster(`${directServer.url}/zego/callback`, concurrency);
  const pids = {
    temporal: stack.temporal.process.pid ?? -1,
    worker: opts.workerPid,
    'inbox server': inboxServer.child.pid,
    'direct server': directServer.child.pid,
    bench: process.pid,
  };
  const raw: LoadResult[] = [];
  const ack: LoadResult[] = [];
  const direct: LoadResult[] = [];
  const delivery: number[] = [];
  const billed: number[] = [];
  const cpu = {
    raw: [] as Record<string, number>[],
    inbox: [] as Record<string, number>[],
    direct: [] as Record<string, number>[],
  };
  const loads: number[] = [];

  const runRaw = async (r: number) => {
    const payloads = traffic.block(APP.raw, `raw-c${concurrency}-${r}`, n).map((c) => payloadOf(c));
    await traffic.settle();
    const watch = cpuWatch(pids);
    const res = await closedLoop(payloads.length, concurrency, async (i) => {
      await gateway.deliver(payloads[i]);
      return 'ok';
    });
    traffic.handedOver(APP.raw, res, payloads.length);
    // CPU per callback, including the settlement work the block caused (billing of its lifecycles).
    await traffic.settle();
    cpu.raw.push(watch(payloads.length));
    raw.push(res);
  };
  const runInbox = async (r: number) => {
    const prefix = `ing-c${concurrency}-${r}`;
    const cbs = traffic.block(APP.inbox, prefix, n);
    await traffic.settle();
    const watch = cpuWatch(pids);
    const t0 = Date.now();
    const res = await closedLoop(cbs.length, concurrency, (i) =>
      inboxPoster.post(cbs[i].body, cbs[i].contentType),
    );
    const deliveredMs = await traffic.deliveredAfter(APP.inbox, prefix, res.ok, t0, 300_000);
    if (deliveredMs === null)
      throw new Error(`${prefix}: not all ${res.ok} acknowledged callbacks delivered in 300 s`);
    traffic.handedOver(APP.inbox, res, cbs.length);
    await traffic.settle();
    billed.push((res.ok * 1000) / (Date.now() - t0));
    cpu.inbox.push(watch(cbs.length));
    delivery.push((res.ok * 1000) / deliveredMs);
    ack.push(res);
  };
  const runDirect = async (r: number) => {
    const cbs = traffic.block(APP.direct, `dir-c${concurrency}-${r}`, n);
    await traffic.settle();
    const watch = cpuWatch(pids);
    const res = await closedLoop(cbs.length, concurrency, (i) =>
      directPoster.post(cbs[i].body, cbs[i].contentType),
    );
    traffic.handedOver(APP.direct, res, cbs.length);
    await traffic.settle();
    cpu.direct.push(watch(cbs.length));
    direct.push(res);
  };

  try {
    // Warm-up (JIT, connections, worker caches), not counted.
    await runRaw(-1);
    await runInbox(-1);
    await runDirect(-1);
    raw.length = ack.length = direct.length = delivery.length = billed.length = 0;
    cpu.raw.length = cpu.inbox.length = cpu.direct.length = 0;

    for (let r = 0; r < runs; r++) {
      loads.push(os.loadavg()[0]);
      await inTurn(
        r,
        () => runRaw(r),
        () => runInbox(r),
        () => runDirect(r),
      );
      log(
        `  run ${r + 1}/${runs}: raw ${raw[r].throughput.toFixed(0)}/s, inbox acknowledged ${ack[r].throughput.toFixed(0)}/s ` +
          `and delivered ${delivery[r].toFixed(0)}/s (billed ${billed[r].toFixed(0)}/s), direct ${direct[r].throughput.toFixed(0)}/s, load ${loads[r].toFixed(1)}`,
      );
    }
  } finally {
    inboxPoster.close();
    directPoster.close();
    await inboxServer.child.kill();
    await directServer.child.kill();
  }
  const medianOf = (rows: Record<string, number>[]) =>
    Object.fromEntries(Object.keys(rows[0]).map((k) => [k, median(rows.map((row) => row[k]))]));
  const per = (xs: number[]) => spread(xs.map((x, i) => x / raw[i].throughput));
  return {
    concurrency,
    n: 2 * Math.max(1, Math.floor(n / 2)),
    runs,
    raw: spread(raw.map((r) => r.throughput)),
    ack: spread(ack.map((r) => r.throughput)),
    delivery: spread(delivery),
    billed: spread(billed),
    direct: spread(direct.map((r) => r.throughput)),
    ackRatio: per(ack.map((r) => r.throughput)),
    deliveryRatio: per(delivery),
    directRatio: per(direct.map((r) => r.throughput)),
    rawP50: spread(raw.map((r) => percentile(r.latenciesMs, 0.5))),
    ackP50: spread(ack.map((r) => percentile(r.latenciesMs, 0.5))),
    ackP99: spread(ack.map((r) => percentile(r.latenciesMs, 0.99))),
    directP50: spread(direct.map((r) => percentile(r.latenciesMs, 0.5))),
    non2xx: [...ack, ...direct].reduce((a, r) => a + r.operations - r.ok, 0),
    cpuPerOp: { raw: medianOf(cpu.raw), inbox: medianOf(cpu.inbox), direct: medianOf(cpu.direct) },
    loadAverage: loads,
  };
}

/** The server's own CPU per callback: the inbox server on its side, the direct one on its. */
export const serverCpu = (p: PairResult) => ({
  inbox: p.cpuPerOp.inbox['inbox server'],
  direct: p.cpuPerOp.direct['direct server'],
  /** The bare client: the bench process sending raw signal-with-start. */
  bareClient: p.cpuPerOp.raw.bench,
});

export function summary(p: PairResult, ctx: Context): SummaryRow[] {
  const cpu = serverCpu(p);
  const rows: SummaryRow[] = [
    [
      `sustained delivery (acknowledged → signal taken) / raw signal-with-start, ${p.concurrency} in flight`,
      formatSpread(p.deliveryRatio, 2),
      `≥ ${TARGETS.deliveryRatio}`,
      met(p.deliveryRatio.median >= TARGETS.deliveryRatio),
    ],
  ];
  if (p.concurrency !== ctx.concurrency) return rows;
  const prev = ctx.previous?.serverCpuPerCallbackMs;
  rows.push([
    `server CPU per callback with the inbox (request path and relay), ${p.concurrency} in flight; beside it the ` +
      `direct mode${prev != null ? ', the previous results.json' : ''} and the bare client`,
    `${cpu.inbox.toFixed(2)} ms (direct ${cpu.direct.toFixed(2)} ms` +
      (prev != null ? `, before ${prev.toFixed(2)} ms` : '') +
      `, bare client ${cpu.bareClient.toFixed(2)} ms)`,
    `≤ ${TARGETS.serverCpuPerCallbackMs} ms`,
    met(cpu.inbox <= TARGETS.serverCpuPerCallbackMs),
  ]);
  return rows;
}

export function render(p: PairResult, ctx: Context): string[] {
  const sides = ['raw', 'inbox', 'direct'] as const;
  const processes = Object.keys(p.cpuPerOp.inbox);
  const cpuRows = processes.map((k) => [k, ...sides.map((s) => p.cpuPerOp[s][k].toFixed(2))]);
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  cpuRows.push(['**all**', ...sides.map((s) => total(p.cpuPerOp[s]).toFixed(2))]);
  const head = p.concurrency === ctx.concurrency;
  const lines = [
    ...(head
      ? [
          '## 2. Throughput: raw signal-with-start, the inbox, the direct hand-off',
          '',
          `Closed loop, ${p.n} callbacks per run and side: the start callbacks of ${p.n / 2} new lifecycles (unique ` +
            `TaskIds), then their stops, so every run leaves its lifecycles billed and closed; ${p.runs} runs, the ` +
            'three sides taking turns at going first; before each run the bench waits until the worker has billed every ' +
            'lifecycle handed over so far, so no side inherits a backlog. The worker of this queue runs as shipped. ' +
            "**Raw**: `TemporalLifecycleGateway.deliver` (the server's own signal-with-start, same workflow type, ID " +
            'scheme, arguments and search attributes) from a bare `@temporalio/client` in the bench process. ' +
            '**Inbox**: the same callbacks signed, `POST /zego/callback` to the server with `DATABASE_URL` (decode, ' +
            'verify, record in PostgreSQL, 200; its relay signals Temporal behind, `RELAY_CONCURRENCY` set to the ' +
            'concurrency of the run): acknowledged is the rate of 200s, delivered the rate from the first callback ' +
            "posted until the last one's inbox entry is `delivered`, billed the rate from the first callback posted " +
            'until the worker has billed every lifecycle of the run (what the whole stack keeps up with). ' +
            '**Direct**: the server without `DATABASE_URL` ' +
            '(signal-with-start before the answer, nonces in memory).',
          '',
        ]
      : [
          `The same with ${p.concurrency} in flight, where every side keeps the machine's cores busy, so ` +
            'throughput is set by CPU rather than by the latency of each hop:',
          '',
        ]),
    table(
      ['', 'raw signal-with-start', 'inbox: acknowledged', 'inbox: delivered', 'direct'],
      [
        [
          'throughput /s',
          formatSpread(p.raw, 0),
          formatSpread(p.ack, 0),
          formatSpread(p.delivery, 0),
          formatSpread(p.direct, 0),
        ],
        [
          'over raw (per run)',
          '',
          formatSpread(p.ackRatio, 2),
          formatSpread(p.deliveryRatio, 2),
          formatSpread(p.directRatio, 2),
        ],
        [
          'p50 latency ms',
          formatSpread(p.rawP50, 1),
          formatSpread(p.ackP50, 1),
          '',
          formatSpread(p.directP50, 1),
        ],
        ['p99 latency ms', '', formatSpread(p.ackP99, 1), '', ''],
        ...(p.billed ? [['billed /s', '', '', formatSpread(p.billed, 0), '']] : []),
      ],
    ),
    '',
    `Non-2xx answers: ${p.non2xx}.`,
    '',
  ];
  if (head) {
    lines.push(
      'CPU time per callback (ms, median of the runs), by process, from /proc, from the start of a run until the ' +
        'worker has billed its lifecycles (PostgreSQL not counted); each side runs while the other servers idle:',
      '',
      table(['process', ...sides], cpuRows),
      '',
      `Load average at each run: ${p.loadAverage.map((l) => l.toFixed(1)).join(', ')} (${ctx.cores} cores).`,
      '',
    );
  }
  return lines;
}

export function findings(p: PairResult, saturated: PairResult | null, ctx: Context): string[] {
  const cpu = serverCpu(p);
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  const out = [
    `- **Delivery vs raw (${p.deliveryRatio.median.toFixed(2)} at ${p.concurrency} in flight, target ≥ ` +
      `${TARGETS.deliveryRatio} ${p.deliveryRatio.median >= TARGETS.deliveryRatio ? 'met' : 'missed'}).** The inbox ` +
      `acknowledges at ${p.ack.median.toFixed(0)}/s (${p.ackRatio.median.toFixed(2)} of raw) and its relay delivers at ` +
      `${p.delivery.median.toFixed(0)}/s against raw's ${p.raw.median.toFixed(0)}/s; the direct hand-off gets ` +
      `${p.direct.median.toFixed(0)}/s (${p.directRatio.median.toFixed(2)}). Over all processes raw costs ` +
      `${total(p.cpuPerOp.raw).toFixed(1)} ms of CPU per callback, settlement included, the inbox ` +
      `${total(p.cpuPerOp.inbox).toFixed(1)} and direct ${total(p.cpuPerOp.direct).toFixed(1)}, on ${ctx.cores} ` +
      `cores at a load average of ${median(p.loadAverage).toFixed(1)}.`,
    `- **Server CPU per callback (${cpu.inbox.toFixed(2)} ms with the inbox, target ≤ ${TARGETS.serverCpuPerCallbackMs} ms ` +
      `${cpu.inbox <= TARGETS.serverCpuPerCallbackMs ? 'met' : 'missed'}).** In the same run the direct hand-off costs ` +
      `the server ${cpu.direct.toFixed(2)} ms per callback and the bare client ${cpu.bareClient.toFixed(2)} ms` +
      (ctx.previous?.serverCpuPerCallbackMs != null
        ? `; the run this one replaced (bench/results.json of ${ctx.previous.date.slice(0, 10)}, commit ${ctx.previous.commit}) ` +
          `measured ${ctx.previous.serverCpuPerCallbackMs.toFixed(2)} ms for the server` +
          (ctx.previous.serverCpuPerRawCallbackMs != null
            ? ` (and ${ctx.previous.serverCpuPerRawCallbackMs.toFixed(2)} ms for the same process idling while the bare client sent)`
            : '')
        : '') +
      '.',
  ];
  if (saturated)
    out.push(
      `- **With ${saturated.concurrency} in flight** raw reaches ${saturated.raw.median.toFixed(0)}/s, the inbox acknowledges ` +
        `${saturated.ack.median.toFixed(0)}/s and delivers ${saturated.delivery.median.toFixed(0)}/s ` +
        `(${saturated.deliveryRatio.median.toFixed(2)} of raw), direct ${saturated.direct.median.toFixed(0)}/s.`,
    );
  return out;
}
