/**
 * The `Sql` surface over node-postgres (`pg.Pool`), plus what the stores need beyond `query`:
 * multi-statement scripts and transactions. PGlite (embedded Postgres in WASM) has the same surface
 * on a thread of its own (pglite-thread-sql.ts).
 *
 * Portability rules the stores follow (the two drivers parse result values differently, and
 * PGlite's rows arrive as structured clones from its thread): every non-text column is selected as
 * text (`::text`, `to_char` for timestamps, `json`/`jsonb` as text) and converted in JS; every
 * parameter is a string, a number or null (JSON is passed as text and cast with `::jsonb`).
 */
import type { Pool, PoolClient } from 'pg';
import type { QueryOptions, Sql } from './types';

/** Statements inside one transaction. */
export interface SqlTx extends Sql {
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** What the stores use: `Sql` plus transactions, scripts and closing. */
export interface SqlClient extends SqlTx {
  readonly kind: 'postgres' | 'embedded';
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK when it throws). Do not use the client itself inside `fn`. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** node-postgres pool. Results keep pg's own parsing (NUMERIC/INT8 as strings, timestamptz as Date). */
export class PoolSql implements SqlClient {
  readonly kind = 'postgres' as const;
  #closed = false;

  constructor(readonly pool: Pool) {}

  async query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    opts?: QueryOptions,
  ): Promise<{ rows: T[] }> {
    // query_timeout (per query, read by pg's client though its types lack it): a server that never
    // answers fails the query, and the pool destroys that connection.
    const config = {
      text,
      values: params,
      ...(opts?.name ? { name: opts.name } : {}),
      ...(opts?.timeoutMs ? { query_timeout: Math.max(1, Math.ceil(opts.timeoutMs)) } : {}),
    };
    const result = await this.pool.query(config);
    return { rows: result.rows as T[] };
  }

  async exec(script: string): Promise<void> {
    // Without parameters node-postgres uses the simple query protocol: several statements are fine.
    await this.pool.query(script);
  }

  async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const result = await fn(clientTx(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          // The connection is unusable: destroy it instead of returning it to the pool.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        throw err;
      }
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

function clientTx(client: PoolClient): SqlTx {
  return {
    async query<T = Record<string, unknown>>(text: string, params?: unknown[]) {
      const result = await client.query(text, params);
      return { rows: result.rows as T[] };
    },
    async exec(script: string) {
      await client.query(script);
    },
  };
}

/** The Postgres fields an error keeps when it is re-created (`localError`). */
export const ERROR_FIELDS = [
  'code',
  'severity',
  'detail',
  'hint',
  'position',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'routine',
] as const;

/** An Error carrying the Postgres fields of `err` (a plain object from PGlite's thread, say). */
export function localError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err !== 'object' || err === null) return new Error(String(err));
  const source = err as Record<string, unknown>;
  const copy = new Error(typeof source.message === 'string' ? source.message : String(err), { cause: err });
  if (typeof source.name === 'string') copy.name = source.name;
  for (const field of ERROR_FIELDS) {
    if (source[field] !== undefined) (copy as unknown as Record<string, unknown>)[field] = source[field];
  }
  return copy;
}

/** SQL expression rendering a timestamptz column as ISO-8601 UTC with milliseconds (`…T…000Z`). */
export function isoSql(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** A NUMERIC/INT8 selected as text → number. */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/** A number parameter for a NUMERIC/INT8 column; rejects NaN/Infinity (NUMERIC would store NaN). */
export function numericParam(value: number, what: string): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${what} must be a finite number, got ${String(value)}`);
  }
  return String(value);
}

/** A timestamp parameter (ISO string) or null; rejects what JS cannot read as a time. */
export function timestampParam(value: string | null | undefined, what: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new TypeError(`${what} must be an ISO timestamp or null, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A JSON parameter (to be cast with `::jsonb`), or null. */
export function jsonParam(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/** `json`/`jsonb` selected as text → value (null stays null). */
export function parseJson<T>(value: unknown): T | null {
  if (value === null || value === undefined) return null;
  return JSON.parse(String(value)) as T;
}

/** A DATABASE_URL safe to print: the password (in the authority or `?password=`) replaced by `***`. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    // Not a URL (e.g. a key=value connection string): hide anything that looks like a password.
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@').replace(/(password\s*=\s*)\S+/gi, '$1***');
  }
}
