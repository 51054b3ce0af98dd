/**
 * Delivers planned callbacks the way ZEGO does (shared doc §3): one POST per attempt, a per-request
 * timeout, and on a non-2xx answer or no answer up to 5 retries after 2, 4, 8, 16 and 32 s (scaled by
 * `retryScale`), after which the callback is given up: what ZEGO would have lost.
 *
 * Scheduling is event-driven: at most `concurrency` requests in flight; a waiting retry or late
 * redelivery holds no slot; due retries go before new callbacks; new callbacks go in offer order once
 * their dependency's first attempt has finished, paced by `ratePerSecond` when given.
 */
import { performance } from 'node:perf_hooks';
import { ReadyQueue } from './ready-queue';
import { TokenBucket } from './rate-limit';

/** ZEGO's documented retry intervals (shared doc §3). */
export const ZEGO_RETRY_DELAYS_MS: readonly number[] = [2000, 4000, 8000, 16000, 32000];

export interface SendableCallback {
  /** Equal to the callback's index in the list. */
  id: number;
  after?: number;
  delayMs: number;
  body: string;
  contentType: string;
}

export interface SenderOptions {
  /** The full callback URL. */
  url: string;
  concurrency: number;
  timeoutMs: number;
  /** Multiplies ZEGO's retry intervals (e.g. 0.01 for fast tests). */
  retryScale: number;
  /** New callbacks offered per second at most; unset: as fast as concurrency allows. */
  ratePerSecond?: number;
  /** Intervals before retries 1..n. Default ZEGO_RETRY_DELAYS_MS. */
  retryDelaysMs?: readonly number[];
}

/** An HTTP status, or why there was none. */
export type AttemptOutcome = number | 'timeout' | 'network_error';

export interface AttemptRecord {
  attempt: number;
  outcome: AttemptOutcome;
  /** Request sent → answer (or timeout, or error). */
  latencyMs: number;
  /** When it was sent, ms since the run started. */
  sentAtMs: number;
}

export interface DeliveryResult {
  id: number;
  delivered: boolean;
  attempts: AttemptRecord[];
}

export interface SendResult {
  deliveries: DeliveryResult[];
  durationMs: number;
}

export function isDelivered(outcome: AttemptOutcome): boolean {
  return typeof outcome === 'number' && outcome >= 200 && outcome < 300;
}

export function sendCallbacks(
  callbacks: readonly SendableCallback[],
  options: SenderOptions,
): Promise<SendResult> {
  callbacks.forEach((cb, i) => {
    if (cb.id !== i) throw new Error(`callback ids must equal their positions (id ${cb.id} at ${i})`);
  });
  return new Delivery(callbacks, options).run();
}

class Delivery {
  private readonly delays: readonly number[];
  private readonly ready = new ReadyQueue();
  private readonly dueRetries: { id: number; attempt: number }[] = [];
  private readonly dependents = new Map<number, number[]>();
  private readonly results: DeliveryResult[];
  private readonly bucket?: TokenBucket;
  private readonly startedAt = performance.now();
  private inFlight = 0;
  private finished = 0;
  private pacingTimer: NodeJS.Timeout | undefined;
  private completed = false;
  private done!: (result: SendResult) => void;

  constructor(
    private readonly callbacks: readonly SendableCallback[],
    private readonly options: SenderOptions,
  ) {
    this.delays = options.retryDelaysMs ?? ZEGO_RETRY_DELAYS_MS;
    this.results = callbacks.map((cb) => ({ id: cb.id, delivered: false, attempts: [] }));
    if (options.ratePerSecond) this.bucket = new TokenBucket(options.ratePerSecond, () => performance.now());
    for (const cb of callbacks) {
      if (cb.after === undefined) this.ready.push(cb.id);
      else this.dependents.set(cb.after, [...(this.dependents.get(cb.after) ?? []), cb.id]);
    }
  }

  run(): Promise<SendResult> {
    return new Promise((resolve) => {
      this.done = resolve;
      this.finishIfComplete();
      this.pump();
    });
  }

  /** Fills free slots: due retries first, then the earliest ready new callback the rate allows. */
  private pump(): void {
    while (this.inFlight < this.options.concurrency) {
      const retry = this.dueRetries.shift();
      if (retry) {
        void this.attempt(retry.id, retry.attempt);
        continue;
      }
      if (this.ready.size === 0) return;
      if (this.bucket) {
        const token = this.bucket.take();
        if (!token.ok) {
          this.pacingTimer ??= setTimeout(() => {
            this.pacingTimer = undefined;
            this.pump();
          }, token.waitMs);
          return;
        }
      }
      void this.attempt(this.ready.pop() as number, 0);
    }
  }

  private async attempt(id: number, attempt: number): Promise<void> {
    this.inFlight += 1;
    const cb = this.callbacks[id];
    const sentAt = performance.now();
    const outcome = await post(this.options.url, cb, this.options.timeoutMs);
    const latencyMs = performance.now() - sentAt;
    this.inFlight -= 1;

    const result = this.results[id];
    result.attempts.push({ attempt, outcome, latencyMs, sentAtMs: sentAt - this.startedAt });
    if (attempt === 0) this.release(id);
    if (isDelivered(outcome)) {
      result.delivered = true;
      this.finished += 1;
    } else if (attempt < this.delays.length) {
      // ZEGO counts its interval from the failed attempt.
      setTimeout(() => {
        this.dueRetries.push({ id, attempt: attempt + 1 });
        this.pump();
      }, this.delays[attempt] * this.options.retryScale);
    } else {
      this.finished += 1;
    }
    this.finishIfComplete();
    this.pump();
  }

  /** The callbacks waiting for this one's first attempt become ready (late ones after their delay). */
  private release(id: number): void {
    for (const dependent of this.dependents.get(id) ?? []) {
      const delayMs = this.callbacks[dependent].delayMs;
      if (delayMs > 0) {
        setTimeout(() => {
          this.ready.push(dependent);
          this.pump();
        }, delayMs);
      } else {
        this.ready.push(dependent);
      }
    }
    this.dependents.delete(id);
  }

  private finishIfComplete(): void {
    if (this.completed || this.finished < this.callbacks.length) return;
    this.completed = true;
    if (this.pacingTimer) clearTimeout(this.pacingTimer);
    this.done({ deliveries: this.results, durationMs: performance.now() - this.startedAt });
  }
}

async function post(url: string, cb: SendableCallback, timeoutMs: number): Promise<AttemptOutcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      body: cb.body,
      headers: { 'content-type': cb.contentType, 'user-agent': 'zego-transcode-lifecycle-simulator' },
      signal: controller.signal,
      redirect: 'manual',
    });
    // Read the answer to its end: the timeout covers it, and the connection can be reused.
    await res.arrayBuffer();
    return res.status;
  } catch {
    return controller.signal.aborted ? 'timeout' : 'network_error';
  } finally {
    clearTimeout(timer);
  }
}
