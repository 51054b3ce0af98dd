/**
 * Opening the service's own storage: PostgreSQL when `DATABASE_URL` is set, otherwise an embedded
 * Postgres (PGlite) under `DATA_DIR` for the worker and in-memory nonce bindings for the server.
 * Both run the same migrations (src/store/migrations.ts) before they are handed out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import { SqlAlertLog } from './alerts';
import { acquireDirLock } from './dir-lock';
import { SqlBillingLedger } from './ledger';
import { runMigrations } from './migrations';
import { MemoryNonceStore, PostgresNonceStore, type NonceStoreOptions } from './nonces';
import { SqlCallbackInbox, type CallbackInbox } from './inbox';
import { SqlActiveTaskRegistry } from './registry';
import { PGliteThreadSql } from './pglite-thread-sql';
import { localError, PoolSql, redactDatabaseUrl, type SqlClient } from './sql';
import type { ActiveTaskRegistry, AlertLog, BillingLedger, Database, NonceStore } from './types';

export type {
  ActiveTask,
  ActiveTaskRegistry,
  AlertDelivery,
  AlertEntry,
  AlertLog,
  AlertMessage,
  AmendOutcome,
  AmendmentReason,
  BillingAmendment,
  BillingLedger,
  BillingRecord,
  NewBillingRecord,
  StoredAmendment,
  Database,
  NonceBinding,
  NonceStore,
  Sql,
  StoredAlert,
} from './types';
export { MIGRATIONS, runMigrations, type Migration, type MigrationResult } from './migrations';
export { MemoryNonceStore, PostgresNonceStore, type NonceStoreOptions } from './nonces';
export { PGliteThreadSql } from './pglite-thread-sql';
export { PoolSql, redactDatabaseUrl, type SqlClient, type SqlTx } from './sql';
export { SqlAlertLog } from './alerts';
export { SqlBillingLedger } from './ledger';
export { SqlActiveTaskRegistry } from './registry';
export * from './inbox';

export interface OpenDatabaseOptions {
  /** PostgreSQL connection string; unset or empty → embedded database under `dataDir`. */
  databaseUrl?: string;
  /** `DATA_DIR`; the embedded database lives in `${dataDir}/pglite`. */
  dataDir: string;
  logger?: Logger;
  /** PostgreSQL pool settings (defaults below). */
  pool?: PoolSettings;
}

export interface PoolSettings {
  max?: number;
  /** Connecting, and waiting for a free connection, at most this long. */
  connectTimeoutMs?: number;
  /** PostgreSQL cancels a statement running longer (server side). */
  statementTimeoutMs?: number;
}

/** Connection pool size of a process's database (PostgreSQL). */
export const DATABASE_POOL_SIZE = 10;
/** Connection pool size of the server's nonce store (PostgreSQL). */
export const NONCE_POOL_SIZE = 4;
const CONNECT_TIMEOUT_MS = 10_000;
/** Longer than any statement of the service should take (activities time out after 30 s). */
const STATEMENT_TIMEOUT_MS = 30_000;

class SqlDatabase implements Database {
  readonly kind: Database['kind'];
  readonly ledger: BillingLedger;
  readonly alerts: AlertLog;
  readonly registry: ActiveTaskRegistry;
  readonly inbox: CallbackInbox;

  constructor(readonly sql: SqlClient) {
    this.kind = sql.kind;
    this.ledger = new SqlBillingLedger(sql);
    this.alerts = new SqlAlertLog(sql);
    this.registry = new SqlActiveTaskRegistry(sql);
    this.inbox = new SqlCallbackInbox(sql);
  }

  close(): Promise<void> {
    return this.sql.close();
  }
}

/** Opens (and migrates) the worker's database. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const databaseUrl = opts.databaseUrl?.trim();
  const client = databaseUrl
    ? await connectPostgres(databaseUrl, { max: DATABASE_POOL_SIZE, ...opts.pool }, opts.logger)
    : await openEmbedded(opts.dataDir, opts.logger);
  await migrate(client, databaseUrl, opts.logger);
  return new SqlDatabase(client);
}

/**
 * The server's nonce bindings: in PostgreSQL (own small pool, migrated) when a URL is given, so
 * that all replicas share them; otherwise in memory (one replica).
 */
export async function createNonceStore(
  opts: { databaseUrl?: string; logger?: Logger } & Pick<NonceStoreOptions, 'now' | 'sweepIntervalMs'> = {},
): Promise<NonceStore> {
  const databaseUrl = opts.databaseUrl?.trim();
  const storeOptions = { logger: opts.logger, now: opts.now, sweepIntervalMs: opts.sweepIntervalMs };
  if (!databaseUrl) return new MemoryNonceStore(storeOptions);
  const client = await connectPostgres(databaseUrl, { max: NONCE_POOL_SIZE }, opts.logger);
  await migrate(client, databaseUrl, opts.logger);
  return new PostgresNonceStore(client, { ...storeOptions, onClose: () => client.close() });
}

async function connectPostgres(
  url: string,
  settings: PoolSettings,
  logger: Logger | undefined,
): Promise<SqlClient> {
  const where = `DATABASE_URL=${redactDatabaseUrl(url)}`;
  let pool: Pool;
  try {
    pool = new Pool({
      connectionString: url,
      max: settings.max ?? DATABASE_POOL_SIZE,
      connectionTimeoutMillis: settings.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      statement_timeout: settings.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS,
      // Client side too: a server (or network path) that stops answering cannot send the
      // cancellation back, and pool.end() would wait for ever for that connection.
      query_timeout: (settings.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS) + 5_000,
      // A transaction left open by a process that hung must not hold its locks for ever.
      idle_in_transaction_session_timeout: 60_000,
      keepAlive: true,
      application_name: 'zego-transcode-lifecycle',
    });
  } catch (err) {
    throw new Error(`invalid PostgreSQL connection string in ${where}: ${describeError(err)}`, {
      cause: err,
    });
  }
  // An idle connection that breaks (server restart, network) must not crash the process.
  pool.on('error', (err) => logger?.warn({ err: describeError(err) }, 'idle PostgreSQL connection failed'));
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot connect to PostgreSQL at ${where}: ${describeError(err)}`, { cause: err });
  }
  return new PoolSql(pool);
}

async function openEmbedded(dataDir: string, logger: Logger | undefined): Promise<SqlClient> {
  if (!dataDir) throw new Error('openDatabase: dataDir (DATA_DIR) is required when DATABASE_URL is unset');
  const dir = path.resolve(dataDir, 'pglite');
  const describe = `the embedded database in ${dir} (DATA_DIR)`;
  fs.mkdirSync(dir, { recursive: true });
  const unlock = acquireDirLock(path.resolve(dataDir, 'pglite.lock'), describe);
  try {
    const sql = await PGliteThreadSql.open(dir, unlock);
    logger?.info({ dataDir: dir }, 'embedded database opened');
    return sql;
  } catch (err) {
    unlock();
    throw new Error(`cannot open ${describe}: ${describeError(err)}`, { cause: err });
  }
}

async function migrate(client: SqlClient, databaseUrl: string | undefined, logger: Logger | undefined) {
  try {
    await runMigrations(client, { logger });
  } catch (err) {
    await client.close().catch(() => undefined);
    const where = databaseUrl ? `DATABASE_URL=${redactDatabaseUrl(databaseUrl)}` : 'the embedded database';
    throw new Error(`migrating ${where} failed: ${describeError(err)}`, { cause: err });
  }
}

function describeError(err: unknown): string {
  const e = localError(err) as Error & { code?: string; errors?: unknown[] };
  // Node's happy-eyeballs connect failures are AggregateErrors with an empty message.
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    return [...new Set(e.errors.map((x) => describeError(x)))].join('; ');
  }
  return e.message || e.code || String(err);
}
