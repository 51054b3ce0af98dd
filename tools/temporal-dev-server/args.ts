/** The `temporal server start-dev` command line: ports, persistence, search attributes. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { searchAttributes } from '../../workflows/definitions';
import { freePort } from '../process/ports';

/** SQLite settings for a file-backed dev server (`--sqlite-pragma`). */
export const DEV_SERVER_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

export interface DevServerArgsOptions {
  ip: string;
  /** gRPC port; a free port when 0 or undefined. */
  port?: number;
  /** Web UI port; a free port when 0 or undefined (ignored when headless). */
  uiPort?: number;
  headless: boolean;
  dbFilename?: string;
  namespace: string;
  logLevel?: string;
  dynamicConfig?: Record<string, unknown>;
}

export async function devServerArgs(
  opts: DevServerArgsOptions,
): Promise<{ args: string[]; port: number; uiPort: number | null }> {
  const { ip, namespace } = opts;
  const port = opts.port || (await freePort(ip));
  let uiPort: number | null = null;
  if (!opts.headless) {
    uiPort = opts.uiPort || (await freePort(ip));
    while (uiPort === port) uiPort = await freePort(ip);
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--log-level',
    opts.logLevel ?? 'warn',
  ];
  // Explicit ports for the HTTP API and metrics: left to the CLI, they can land on a port another
  // server on this machine holds (seen with several dev servers started side by side).
  const taken = new Set([port, uiPort]);
  const extraPort = async () => {
    let p = await freePort(ip);
    while (taken.has(p)) p = await freePort(ip);
    taken.add(p);
    return p;
  };
  args.push('--http-port', String(await extraPort()), '--metrics-port', String(await extraPort()));
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {}))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  if (uiPort !== null) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  if (opts.dbFilename) {
    mkdirSync(path.dirname(path.resolve(opts.dbFilename)), { recursive: true });
    args.push('--db-filename', opts.dbFilename);
    // The SQLite default (rollback journal, a synchronous commit per write) halved what the dev
    // server acknowledges per second (bench/RESULTS.md §7). WAL with synchronous=NORMAL survives a
    // killed process; only a power cut can lose the last commits, which a laptop can afford.
    for (const pragma of DEV_SERVER_SQLITE_PRAGMAS) args.push('--sqlite-pragma', pragma);
  }
  // Also registered (idempotently) by the worker; here so a fresh server has them from the start.
  for (const key of Object.values(searchAttributes)) args.push('--search-attribute', `${key.name}=Keyword`);
  // No phoning home for a version check (offline machines just log warnings about it).
  args.push('--dynamic-config-value', 'frontend.enableServerVersionCheck=false');
  return { args, port, uiPort };
}
