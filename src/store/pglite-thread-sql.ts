/**
 * The embedded database (PGlite) on a thread of its own (`pglite-thread.js`), behind the same
 * `SqlClient` as PostgreSQL's pool.
 *
 * Why a thread: PGlite runs each statement synchronously on the thread that calls it. In
 * `npm run dev` one process serves HTTP, relays the inbox and runs the worker, and with the inbox
 * in PGlite its main thread was busy all the time under load, more than half of it inside PGlite;
 * everything else queued behind. On its own thread PGlite works while the main thread serves.
 *
 * PGlite has one connection and serializes work on it: a statement sent while a transaction is
 * open waits until that transaction ends, as it did in process. Rows and errors cross the thread
 * boundary as plain data (errors keep their Postgres fields, re-created here by `localError`).
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ERROR_FIELDS, localError, type SqlClient, type SqlTx } from './sql';

interface Reply {
  id: number;
  rows?: unknown[];
  error?: Record<string, unknown>;
}

type Op = 'open' | 'query' | 'exec' | 'begin' | 'commit' | 'rollback' | 'close';

export class PGliteThreadSql implements SqlClient {
  readonly kind = 'embedded' as const;
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (rows: unknown[] | undefined) => void; reject: (e: Error) => void }
  >();
  #nextId = 1;
  #nextTx = 1;
  /** Why the thread is gone (every statement from then on fails with it), or null while it runs. */
  #ended: Error | null = null;
  #closed = false;

  private constructor(private readonly onClose?: () => void) {
    this.#worker = new Worker(path.join(__dirname, 'pglite-thread.js'), {
      workerData: { errorFields: ERROR_FIELDS },
    });
    // The thread keeps the process alive only while a statement is in flight (see #send).
    this.#worker.unref();
    this.#worker.on('message', (reply: Reply) => {
      const waiting = this.#pending.get(reply.id);
      if (!waiting) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) this.#worker.unref();
      if (reply.error) waiting.reject(localError(reply.error));
      else waiting.resolve(reply.rows);
    });
    this.#worker.on('error', (err) =>
      this.#end(new Error(`embedded database thread failed: ${err.message}`)),
    );
    this.#worker.on('exit', (code) => this.#end(new Error(`embedded database thread exited (code ${code})`)));
  }

  /** Starts the thread and opens the database in `dataDir` (or in memory when undefined). */
  static async open(dataDir: string | undefined, onClose?: () => void): Promise<PGliteThreadSql> {
    const sql = new PGliteThreadSql(onClose);
    try {
      await sql.#send('open', { dataDir });
    } catch (err) {
      await sql.#worker.terminate();
      throw err;
    }
    return sql;
  }

  async query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: T[] }> {
    return { rows: ((await this.#send('query', { text, params })) ?? []) as T[] };
  }

  async exec(script: string): Promise<void> {
    await this.#send('exec', { text: script });
  }

  async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const tx = this.#nextTx++;
    await this.#send('begin', { tx });
    let result: T;
    try {
      result = await fn({
        query: async <R = Record<string, unknown>>(text: string, params?: unknown[]) => ({
          rows: ((await this.#send('query', { text, params, tx })) ?? []) as R[],
        }),
        exec: async (script: string) => {
          await this.#send('exec', { text: script, tx });
        },
      });
    } catch (err) {
      await this.#send('rollback', { tx }).catch(() => undefined);
      throw err;
    }
    await this.#send('commit', { tx });
    return result;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (!this.#ended) await this.#send('close', {});
    } finally {
      this.#end(new Error('embedded database closed'));
      await this.#worker.terminate();
      this.onClose?.();
    }
  }

  #send(op: Op, fields: Record<string, unknown>): Promise<unknown[] | undefined> {
    if (this.#ended) return Promise.reject(this.#ended);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, op, ...fields });
    });
  }

  #end(reason: Error): void {
    if (this.#ended) return;
    this.#ended = reason;
    for (const waiting of this.#pending.values()) waiting.reject(reason);
    this.#pending.clear();
  }
}
