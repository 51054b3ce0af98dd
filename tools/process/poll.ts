/** The one polling loop of the tooling: probe, and again after a pause, until done or out of time. */
import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  timeoutMs: number;
  /** Pause between probes. Default 100 ms. */
  everyMs?: number;
  /** Ends the wait early (e.g. the process being waited for exited). */
  stopWhen?: () => boolean;
}

/**
 * Probes until `done(value)`, `timeoutMs` has passed or `stopWhen()`, and returns the last value
 * either way: the caller decides whether running out of time is an error. A probe that throws ends
 * the wait with its error (catch inside the probe to keep polling).
 */
export async function pollUntil<T>(
  probe: () => Promise<T> | T,
  done: (value: T) => boolean,
  opts: PollOptions,
): Promise<{ value: T; done: boolean }> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return { value, done: true };
    if (Date.now() >= deadline || opts.stopWhen?.()) return { value, done: false };
    await sleep(opts.everyMs ?? 100);
  }
}

/** Polls a count until it reaches `target` or `timeoutMs` passes; returns the last count. */
export async function waitForCount(
  count: () => Promise<number>,
  target: number,
  timeoutMs: number,
  everyMs = 100,
): Promise<number> {
  return (await pollUntil(count, (n) => n >= target, { timeoutMs, everyMs })).value;
}
