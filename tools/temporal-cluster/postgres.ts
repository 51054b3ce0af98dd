/**
 * The cluster's own PostgreSQL databases: created and migrated with Temporal's schema tool (as
 * upstream's admin-tools setup does), dropped with `WITH (FORCE)` so a killed server's leftover
 * connections cannot block the cleanup.
 */
import { execFile } from 'node:child_process';
import { Client } from 'pg';
import type { Logger } from './binaries';

export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The database named in the URL: where CREATE/DROP DATABASE run. */
  adminDatabase: string;
  url: string;
  /** Where the URL came from, for error messages. */
  variable: string;
}

/** Parses a postgres:// URL; a bad one is one line naming the variable it came from. */
export function postgresTarget(url: string, variable = 'TEST_POSTGRES_URL'): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${variable} is not a URL (want postgres://user[:password]@host[:port]/database)`);
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol) || !parsed.hostname) {
    throw new Error(`${variable} must be a postgres://user[:password]@host[:port]/database URL`);
  }
  const port = parsed.port ? Number(parsed.port) : 5432;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`${variable} has a bad port`);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    user: decodeURIComponent(parsed.username) || 'postgres',
    password: decodeURIComponent(parsed.password),
    adminDatabase: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
    url,
    variable,
  };
}

/** The schema each of the cluster's databases gets (embedded in the sql tool). */
export const SCHEMAS = { main: 'postgresql/v12/temporal', visibility: 'postgresql/v12/visibility' } as const;

export async function databaseExists(target: PostgresTarget, name: string): Promise<boolean> {
  return withAdmin(target, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return (rowCount ?? 0) > 0;
  });
}

/**
 * `create`, `setup-schema -v 0.0` (versioning tables), `update-schema` to the newest version: the
 * steps of the compose file's `temporal-schema` service. Each is a no-op on a current database, so
 * a kept cluster's databases are reused as they are.
 */
export async function setUpDatabase(
  sqlTool: string,
  target: PostgresTarget,
  database: string,
  schema: string,
  log: Logger,
): Promise<void> {
  const fresh = !(await databaseExists(target, database));
  await runSqlTool(sqlTool, target, database, ['create', '--defaultdb', target.adminDatabase]);
  await runSqlTool(sqlTool, target, database, ['setup-schema', '-v', '0.0']);
  await runSqlTool(sqlTool, target, database, ['update-schema', '--schema-name', schema]);
  log(`${fresh ? 'created' : 'reused'} database ${database} (${schema})`);
}

export async function dropDatabases(target: PostgresTarget, names: string[]): Promise<void> {
  await withAdmin(target, async (client) => {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
}

function runSqlTool(
  sqlTool: string,
  target: PostgresTarget,
  database: string,
  args: string[],
): Promise<void> {
  const common = ['--plugin', 'postgres12', '--ep', target.host, '--port', String(target.port)];
  common.push('--user', target.user, '--db', database);
  return new Promise((resolve, reject) => {
    execFile(
      sqlTool,
      [...common, ...args],
      // The password through the environment: not visible in the process list.
      { env: { ...process.env, SQL_PASSWORD: target.password }, timeout: 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve();
        const lines = `${stdout}\n${stderr}`.split('\n').filter((l) => /error|fatal|fail/i.test(l));
        reject(
          new Error(
            `temporal-sql-tool ${args[0]} on database ${database} failed: ${lines.slice(-3).join(' | ') || err.message}`,
          ),
        );
      },
    );
  });
}

async function withAdmin<T>(target: PostgresTarget, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password || undefined,
    database: target.adminDatabase,
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
  } catch (err) {
    const where = `${target.user}@${target.host}:${target.port}/${target.adminDatabase}`;
    throw new Error(
      `cannot connect to PostgreSQL at ${where} (${target.variable}): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
