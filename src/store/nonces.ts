/**
 * Callback nonce bindings: (Timestamp, Nonce) key → fingerprint of the first body that carried it.
 *
 * Semantics shared by both implementations (same answers for the same calls):
 * - no binding for the key, or only an expired one (expires_at <= now): bind it → 'new'
 * - a live binding with the same fingerprint → 'same' (its expiry is left as it is)
 * - a live binding with another fingerprint → 'conflict'
 * Expired bindings are deleted by a periodic sweep (timer unref()ed, stopped by close()).
 * "now" is the caller's clock (`options.now`, default Date.now), also for PostgreSQL, so that
 * expiry is judged on the same clock that computed `expiresAtMs`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NonceBinding, NonceStore, Sql } from './types';

export interface NonceStoreOptions {
  /** Clock in epoch milliseconds; default Date.now. */
  now?: () => number;
  /** How often expired bindings are deleted; 0 disables the timer (sweep() still works). Default 60 s. */
  sweepIntervalMs?: number;
  logger?: Logger;
}

export const DEFAULT_NONCE_SWEEP_INTERVAL_MS = 60_000;
export const DEFAULT_MEMORY_NONCE_MAX_ENTRIES = 100_000;

function checkBindArgs(key: string, fingerprint: string, expiresAtMs: number): void {
  if (typeof key !== 'string' || key === '') throw new TypeError('nonce key must be a non-empty string');
  if (typeof fingerprint !== 'string') throw new TypeError('nonce fingerprint must be a string');
  if (
    typeof expiresAtMs !== 'number' ||
    !Number.isFinite(expiresAtMs) ||
    Number.isNaN(new Date(expiresAtMs).getTime())
  ) {
    throw new TypeError(`nonce expiresAtMs must be a finite epoch-ms time, got ${String(expiresAtMs)}`);
  }
}

/** Runs `sweep` every `intervalMs` without overlapping runs and without keeping the process alive. */
class Sweeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(
    private readonly sweep: () => Promise<unknown> | unknown,
    intervalMs: number,
    private readonly logger?: Logger,
  ) {
    if (intervalMs > 0) {
      this.#timer = setInterval(() => this.#tick(), intervalMs);
      this.#timer.unref();
    }
  }

  #tick(): void {
    if (this.#running) return;
    this.#running = Promise.resolve()
      .then(this.sweep)
      .catch((err: unknown) => this.logger?.warn({ err }, 'nonce sweep failed; will retry'))
      .finally(() => {
        this.#running = undefined;
      });
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

/** One process's bindings in a Map, bounded: when full, expired entries go first, then the oldest. */
export class MemoryNonceStore implements NonceStore {
  readonly #entries = new Map<string, { fingerprint: string; expiresAtMs: number }>();
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #sweeper: Sweeper;
  #closed = false;

  constructor(options: NonceStoreOptions & { maxEntries?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MEMORY_NONCE_MAX_ENTRIES);
    this.#sweeper = new Sweeper(
      () => this.sweep(),
      options.sweepIntervalMs ?? DEFAULT_NONCE_SWEEP_INTERVAL_MS,
      options.logger,
    );
  }

  get size(): number {
    return this.#entries.size;
  }

  async bind(key: string, fingerprint: string, expiresAtMs: number): Promise<NonceBinding> {
    if (this.#closed) throw new Error('nonce store is closed');
    checkBindArgs(key, fingerprint, expiresAtMs);
    const now = this.#now();
    const existing = this.#entries.get(key);
    if (existing && existing.expiresAtMs > now) {
      return existing.fingerprint === fingerprint ? 'same' : 'conflict';
    }
    if (existing) this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) this.sweep();
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size < this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { fingerprint, expiresAtMs });
    return 'new';
  }

  /** Deletes expired bindings; returns how many went. */
  sweep(): number {
    const now = this.#now();
    let removed = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs <= now) {
        this.#entries.delete(key);
        removed++;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sweeper.stop();
    this.#entries.clear();
  }
}

const BIND_SQL = `
  INSERT INTO callback_nonces AS n (key, fingerprint, expires_at, binding_id)
  VALUES ($1, $2, $3::timestamptz, $4::text)
  ON CONFLICT (key) DO UPDATE SET
    fingerprint = CASE WHEN n.expires_at <= $5::timestamptz THEN EXCLUDED.fingerprint ELSE n.fingerprint END,
    expires_at  = CASE WHEN n.expires_at <= $5::timestamptz THEN EXCLUDED.expires_at ELSE n.expires_at END,
    binding_id  = CASE WHEN n.expires_at <= $5::timestamptz THEN EXCLUDED.binding_id ELSE n.binding_id END,
    bound_at    = CASE WHEN n.expires_at <= $5::timestamptz THEN EXCLUDED.bound_at ELSE n.bound_at END
  RETURNING fingerprint, binding_id = $4::text AS bound`;

const SWEEP_SQL = `
  WITH gone AS (DELETE FROM callback_nonces WHERE expires_at <= $1::timestamptz RETURNING 1)
  SELECT count(*)::int AS n FROM gone`;

/**
 * Bindings in PostgreSQL, shared by every server replica. One round trip per bind: an upsert that
 * replaces an expired row, leaves a live one untouched (but still returns it), and reports through
 * `binding_id` whether this call is the one that bound the key.
 */
export class PostgresNonceStore implements NonceStore {
  readonly #now: () => number;
  readonly #sweeper: Sweeper;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(
    private readonly sql: Sql,
    options: NonceStoreOptions & { onClose?: () => Promise<void> } = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#onClose = options.onClose;
    this.#sweeper = new Sweeper(
      () => this.sweep(),
      options.sweepIntervalMs ?? DEFAULT_NONCE_SWEEP_INTERVAL_MS,
      options.logger,
    );
  }

  async bind(key: string, fingerprint: string, expiresAtMs: number): Promise<NonceBinding> {
    if (this.#closed) throw new Error('nonce store is closed');
    checkBindArgs(key, fingerprint, expiresAtMs);
    const bindingId = randomUUID();
    const { rows } = await this.sql.query<{ fingerprint: string; bound: boolean | string }>(BIND_SQL, [
      key,
      fingerprint,
      new Date(expiresAtMs).toISOString(),
      bindingId,
      new Date(this.#now()).toISOString(),
    ]);
    const row = rows[0];
    if (!row) throw new Error('nonce upsert returned no row');
    if (row.bound === true || row.bound === 't') return 'new';
    return row.fingerprint === fingerprint ? 'same' : 'conflict';
  }

  /** Deletes expired bindings; returns how many went. */
  async sweep(): Promise<number> {
    const { rows } = await this.sql.query<{ n: number }>(SWEEP_SQL, [new Date(this.#now()).toISOString()]);
    return Number(rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sweeper.stop();
    await this.#onClose?.();
  }
}
