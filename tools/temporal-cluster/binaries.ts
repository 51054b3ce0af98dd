/**
 * Finds or builds the Temporal Server (`server`) and its schema tool (`sql`) at one version, in
 * `<project>/.cache/temporal-server/<version>/`: `GOBIN=<that dir> go install` of both commands of
 * the `go.temporal.io/server` module. A fresh machine needs only Go and the module proxy; after
 * the first build (a few minutes) the cache answers at once.
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { seconds } from '../format';
import { forEachLine } from '../process/child-output';
import { withInstallLock } from '../install-lock';

export type Logger = (line: string) => void;

export interface ClusterBinaries {
  version: string;
  /** The Temporal Server (`temporal start`). */
  server: string;
  /** temporal-sql-tool. */
  sql: string;
}

const COMMANDS = { server: 'go.temporal.io/server/cmd/server', sql: 'go.temporal.io/server/cmd/tools/sql' };
const EXE = process.platform === 'win32' ? '.exe' : '';

export function clusterCacheDir(projectRoot: string, version: string): string {
  return path.join(projectRoot, '.cache', 'temporal-server', version);
}

export async function locateClusterBinaries(opts: {
  version: string;
  projectRoot: string;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Default 20 min (a cold build takes ~2.5 min on 2 cores). */
  buildTimeoutMs?: number;
}): Promise<ClusterBinaries> {
  const log = opts.logger ?? (() => undefined);
  const dir = clusterCacheDir(opts.projectRoot, opts.version);
  const want = {
    version: opts.version,
    server: path.join(dir, `server${EXE}`),
    sql: path.join(dir, `sql${EXE}`),
  };
  if (await cached(want, log)) return want;

  await fs.mkdir(dir, { recursive: true });
  return withInstallLock(
    path.join(dir, 'install.lock'),
    log,
    async () => {
      if (await cached(want, log)) return want;
      await goInstall(dir, opts.version, opts.env ?? process.env, opts.buildTimeoutMs ?? 20 * 60_000, log);
      for (const file of [want.server, want.sql]) {
        const version = await versionOf(file).catch((err: Error) => err.message);
        if (version !== opts.version) throw new Error(`built ${file} but it reports version ${version}`);
      }
      return want;
    },
    `Temporal Server ${opts.version}`,
  );
}

/** Both binaries there and answering with the right version; a broken one is removed. */
async function cached(want: ClusterBinaries, log: Logger): Promise<boolean> {
  let ok = true;
  for (const file of [want.server, want.sql]) {
    if (!(await isExecutable(file))) {
      ok = false;
      continue;
    }
    const version = await versionOf(file).catch((err: Error) => `unusable (${err.message})`);
    if (version !== want.version) {
      log(`removing cached ${file}: version ${version}, want ${want.version}`);
      await fs.rm(file, { force: true });
      ok = false;
    }
  }
  if (ok) log(`using cached Temporal Server ${want.version} in ${path.dirname(want.server)}`);
  return ok;
}

async function goInstall(
  dir: string,
  version: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  log: Logger,
) {
  const packages = Object.values(COMMANDS).map((pkg) => `${pkg}@v${version}`);
  const started = Date.now();
  log(
    `building Temporal Server ${version}: GOBIN=${dir} go install ${packages.join(' ')} (minutes the first time) ...`,
  );
  const tail: string[] = [];
  const code = await new Promise<number | string>((resolve) => {
    // Same process group: a Ctrl-C of the caller stops the build too. Pure Go (its SQLite is pure
    // Go as well), so no C toolchain is needed.
    const child = spawn('go', ['install', ...packages], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, GOBIN: dir, CGO_ENABLED: env.CGO_ENABLED ?? '0' },
    });
    const onLine = (line: string) => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      log(`  go: ${line}`);
    };
    forEachLine(child.stdout, onLine);
    forEachLine(child.stderr, onLine);
    const heartbeat = setInterval(() => log(`  go install: still building (${seconds(started)})`), 30_000);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearInterval(heartbeat);
      clearTimeout(timer);
      resolve(`cannot run go (${err.message}); install Go 1.25+ (https://go.dev/dl)`);
    });
    child.once('close', (exitCode, signal) => {
      clearInterval(heartbeat);
      clearTimeout(timer);
      resolve(exitCode ?? `killed by ${signal} (timeout ${Math.round(timeoutMs / 1000)}s?)`);
    });
  });
  if (code !== 0) {
    throw new Error(
      `building Temporal Server ${version} failed: ${typeof code === 'number' ? `go install exited ${code}` : code}` +
        (tail.length ? `\n${tail.slice(-5).join('\n')}` : ''),
    );
  }
  log(`built Temporal Server ${version} in ${seconds(started)}`);
}

/** `1.29.1` from `temporal version 1.29.1` / `temporal-sql-tool version 1.29.1`. */
function versionOf(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, ['--version'], { timeout: 15_000 }, (err, stdout) => {
      if (err) return reject(new Error(err.message.split('\n')[0]));
      const match = /version\s+v?(\S+)/.exec(String(stdout));
      if (!match?.[1]) return reject(new Error(`--version printed ${JSON.stringify(String(stdout).trim())}`));
      resolve(match[1]);
    });
  });
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}
