/**
 * Load drivers for the benchmarks: closed loop (N operations, C in flight, as fast as they complete)
 * and open loop (operations offered at R/s whatever the answers, at most C in flight; latency counted
 * from the moment each one was due, so a backlog shows in the latency instead of hiding: no
 * coordinated omission). An operation is any async call (an HTTP POST, a gRPC signal-with-start).
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** What one operation came back with: an HTTP status, or a word for a failure. */
export type Outcome = number | string;

export interface LoadResult {
  operations: number;
  /** Operations that succeeded (2xx, or `ok`). */
  ok: number;
  outcomes: Record<string, number>;
  durationMs: number;
  /** Successful operations per second over the whole run. */
  throughput: number;
  /** Per operation, due (open loop) or sent (closed loop) → answered, ms. */
  latenciesMs: number[];
}

const succeeded = (o: Outcome) => o === 'ok' || (typeof o === 'number' && o >= 200 && o < 300);

/**
 * Run r of measurements taken in turn: which goes first rotates (of two: alternates), so a drift
 * of the machine's load hits all alike.
 */
export async function inTurn(r: number, ...sides: (() => Promise<void>)[]): Promise<void> {
  const k = r % sides.length;
  for (const side of [...sides.slice(k), ...sides.slice(0, k)]) await side();
}

/** Runs op(0..n-1) with `concurrency` in flight until all have answered. */
export async function closedLoop(
  n: number,
  concurrency: number,
  op: (i: number) => Promise<Outcome>,
): Promise<LoadResult> {
  const latencies: number[] = new Array(n);
  const outcomes: Outcome[] = new Array(n);
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const t = performance.now();
      outcomes[i] = await op(i).catch((err: unknown) => describe(err));
      latencies[i] = performance.now() - t;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return result(outcomes, latencies, performance.now() - started);
}

/**
 * Offers op(0..n-1) at `ratePerSecond` (operation i is due at i/rate s), at most `maxInFlight` at
 * once (a due operation waits for a free slot, and its wait counts in its latency).
 */
export function openLoop(
  n: number,
  ratePerSecond: number,
  maxInFlight: number,
  op: (i: number) => Promise<Outcome>,
): Promise<LoadResult> {
  const latencies: number[] = new Array(n);
  const outcomes: Outcome[] = new Array(n);
  const started = performance.now();
  const dueAt = (i: number) => started + (i * 1000) / ratePerSecond;
  let next = 0;
  let inFlight = 0;
  let done = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve) => {
    const pump = () => {
      timer = undefined;
      const now = performance.now();
      while (next < n && inFlight < maxInFlight && dueAt(next) <= now) {
        const i = next++;
        inFlight += 1;
        void op(i)
          .catch((err: unknown) => describe(err))
          .then((outcome) => {
            outcomes[i] = outcome;
            latencies[i] = performance.now() - dueAt(i);
            inFlight -= 1;
            done += 1;
            if (done === n) resolve(result(outcomes, latencies, performance.now() - started));
            else pump();
          });
      }
      if (next < n && inFlight < maxInFlight && !timer) {
        timer = setTimeout(pump, Math.max(0, dueAt(next) - performance.now()));
      }
    };
    pump();
  });
}

function result(outcomes: Outcome[], latencies: number[], durationMs: number): LoadResult {
  const counts: Record<string, number> = {};
  let ok = 0;
  for (const o of outcomes) {
    counts[String(o)] = (counts[String(o)] ?? 0) + 1;
    if (succeeded(o)) ok += 1;
  }
  return {
    operations: outcomes.length,
    ok,
    outcomes: counts,
    durationMs,
    throughput: (ok * 1000) / durationMs,
    latenciesMs: latencies,
  };
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  return String(e?.code ?? e?.name ?? 'error');
}

/** A keep-alive HTTP client for POSTing bodies to one URL (one socket per in-flight request). */
export class HttpPoster {
  private readonly agent: http.Agent;
  private readonly url: URL;

  constructor(
    url: string,
    maxSockets: number,
    private readonly timeoutMs = 30_000,
  ) {
    this.url = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  post(body: string | Buffer, contentType: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const payload = typeof body === 'string' ? Buffer.from(body) : body;
      const req = http.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': contentType, 'content-length': payload.length },
          timeout: this.timeoutMs,
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', () => resolve('response_error'));
        },
      );
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', (err: NodeJS.ErrnoException) =>
        resolve(err.message === 'timeout' ? 'timeout' : (err.code ?? 'error')),
      );
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
