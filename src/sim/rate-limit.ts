/**
 * Open-loop pacing for `--rate`: a token bucket refilled at R tokens/s whose capacity is 10 ms worth of
 * tokens (at least 1). New callbacks are offered whenever a token is there, whatever the service's
 * answers; bursts never exceed the capacity, so any one-second window sees at most about R + capacity.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly capacity: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {
    this.capacity = Math.max(1, perSecond / 100);
    this.tokens = this.capacity;
    this.last = now();
  }

  /** Takes a token if one is there; otherwise returns how many ms until one will be. */
  take(): { ok: true } | { ok: false; waitMs: number } {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.perSecond) / 1000);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond)) };
  }
}
