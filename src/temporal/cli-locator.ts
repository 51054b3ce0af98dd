/**
 * Finds (or provides) a working `temporal` CLI, the binary behind the embedded dev server.
 *
 * Order: (1) TEMPORAL_CLI_PATH, (2) `temporal` on PATH, (3) this project's cache
 * `.cache/temporal-cli/` (what an earlier call downloaded or built), (4) the Temporal SDK's own
 * cached download (needs temporal.download), (5) `go install` of the pinned CLI release.
 * Whatever (4) or (5) produce stays in the cache, so the next call is instant.
 *
 * As a script (`npm run temporal:cli`): progress on stderr, the path on stdout, exit 1 with one
 * line on failure.
 */
import { execFile, spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { existsSync, promises as fs, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { forEachLine } from './child-output';

export type LocatorLogger = (line: string) => void;

export interface LocateTemporalCliOptions {
  /** Progress lines (nothing is printed when absent). */
  logger?: LocatorLogger;
  /** Environment to read TEMPORAL_CLI_PATH / PATH from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to the directory holding this project's package.json. */
  projectRoot?: string;
  /** Upper bound for the SDK download step (download and one short server start). Default 180 s. */
  sdkDownloadTimeoutMs?: number;
  /** Upper bound for the `go install` step. Default 20 min. */
  goInstallTimeoutMs?: number;
}

/** The CLI release built by the `go install` fallback (later tags carry a replace directive). */
export const TEMPORAL_CLI_GO_PACKAGE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
/** What the release builds set, so `temporal --version` tells the truth instead of 0.0.0-DEV. */
const GO_LDFLAGS = '-s -w -X github.com/temporalio/cli/temporalcli.Version=1.5.1';
const EXE_SUFFIX = process.platform === 'win32' ? '.exe' : '';
const CLI_NAME = `temporal${EXE_SUFFIX}`;
const VERSION_TIMEOUT_MS = 15_000;

export class TemporalCliNotFoundError extends Error {
  override name = 'TemporalCliNotFoundError';
}

/** The nearest directory at or above `start` that holds a package.json. */
export function findProjectRoot(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json found at or above ${start}`);
    dir = parent;
  }
}

/** `<projectRoot>/.cache/temporal-cli`: where downloaded or built CLIs are kept. */
export function temporalCliCacheDir(projectRoot: string = findProjectRoot()): string {
  return path.join(projectRoot, '.cache', 'temporal-cli');
}

/** Layout of the cache directory. */
function cacheLayout(cacheDir: string) {
  return {
    /** Where the SDK download ends up once verified (moved out of `sdkDownloadDir`). */
    sdkBin: path.join(cacheDir, 'bin', CLI_NAME),
    sdkDownloadDir: path.join(cacheDir, 'sdk-download'),
    goBinDir: path.join(cacheDir, 'go-bin'),
    goBin: path.join(cacheDir, 'go-bin', CLI_NAME),
    lock: path.join(cacheDir, 'install.lock'),
  };
}

export async function locateTemporalCli(opts: LocateTemporalCliOptions = {}): Promise<string> {
  const log: LocatorLogger = opts.logger ?? (() => undefined);
  const env = opts.env ?? process.env;
  const tried: string[] = [];

  // (1) Explicit path: if set, it must work; never fall through silently.
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit !== undefined && explicit !== '') {
    const resolved = path.resolve(explicit);
    if (!(await isExecutableFile(resolved))) {
      throw new TemporalCliNotFoundError(
        `TEMPORAL_CLI_PATH=${explicit} is not an executable file; point it at a temporal CLI binary or unset it`,
      );
    }
    try {
      const version = await cliVersion(resolved);
      log(`using TEMPORAL_CLI_PATH=${resolved} (${version})`);
      return resolved;
    } catch (err) {
      throw new TemporalCliNotFoundError(
        `TEMPORAL_CLI_PATH=${explicit} is not a working temporal CLI: ${oneLine(err)}`,
      );
    }
  }
  tried.push('TEMPORAL_CLI_PATH (unset)');

  // (2) PATH.
  const onPath = await findOnPath(env, log);
  if (onPath.found) return onPath.found;
  tried.push(`"temporal" on PATH (${onPath.reason})`);

  // (3) Cache.
  const projectRoot = opts.projectRoot ?? findProjectRoot();
  const cacheDir = temporalCliCacheDir(projectRoot);
  const layout = cacheLayout(cacheDir);
  const cached = await findInCache(layout, log);
  if (cached) return cached;
  tried.push(`cache ${cacheDir} (empty)`);

  // (4) and (5) are slow; one process at a time, and whoever waited re-checks the cache first.
  await fs.mkdir(cacheDir, { recursive: true });
  return withInstallLock(layout.lock, log, async () => {
    const cachedMeanwhile = await findInCache(layout, log);
    if (cachedMeanwhile) return cachedMeanwhile;

    const sdk = await trySdkDownload(layout, opts.sdkDownloadTimeoutMs ?? 180_000, env, log);
    if (sdk.found) return sdk.found;
    tried.push(`SDK download (${sdk.reason})`);

    const go = await tryGoInstall(layout, opts.goInstallTimeoutMs ?? 20 * 60_000, env, log);
    if (go.found) return go.found;
    tried.push(`go install ${TEMPORAL_CLI_GO_PACKAGE} (${go.reason})`);

    throw new TemporalCliNotFoundError(
      `No working Temporal CLI found. Tried: ${tried.join('; ')}. ` +
        `Fix: set TEMPORAL_CLI_PATH to a temporal CLI binary (https://docs.temporal.io/cli), ` +
        `or install Go 1.25+ (https://go.dev/dl) so it can be built into ${layout.goBinDir}.`,
    );
  });
}

type StepResult = { found: string; reason?: undefined } | { found?: undefined; reason: string };

async function findOnPath(env: NodeJS.ProcessEnv, log: LocatorLogger): Promise<StepResult> {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  const broken: string[] = [];
  for (const dir of dirs) {
    const candidate = path.join(dir, CLI_NAME);
    if (!(await isExecutableFile(candidate))) continue;
    try {
      const version = await cliVersion(candidate);
      log(`using ${candidate} from PATH (${version})`);
      return { found: candidate };
    } catch (err) {
      log(`ignoring ${candidate} on PATH: ${oneLine(err)}`);
      broken.push(candidate);
    }
  }
  return { reason: broken.length ? `${broken.join(', ')} did not answer --version` : 'not found' };
}

async function findInCache(
  layout: ReturnType<typeof cacheLayout>,
  log: LocatorLogger,
): Promise<string | null> {
  for (const candidate of [layout.goBin, layout.sdkBin]) {
    if (!(await isExecutableFile(candidate))) continue;
    try {
      const version = await cliVersion(candidate);
      log(`using cached ${candidate} (${version})`);
      return candidate;
    } catch (err) {
      log(`removing broken cached CLI ${candidate}: ${oneLine(err)}`);
      await fs.rm(candidate, { force: true });
    }
  }
  return null;
}

/**
 * (4) The SDK's `cached-download` executable: `TestWorkflowEnvironment.createLocal` downloads the
 * CLI into `downloadDir` (as `temporal-sdk-typescript-<version>`) and starts it once. That runs in a
 * child Node process of its own process group (the SDK forwards the server's output to the process's
 * stdout, and a timed-out download must be killable), then the verified binary is moved to `bin/`.
 */
async function trySdkDownload(
  layout: ReturnType<typeof cacheLayout>,
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
  log: LocatorLogger,
): Promise<StepResult> {
  const started = Date.now();
  let testingEntry: string;
  try {
    testingEntry = require.resolve('@temporalio/testing');
  } catch (err) {
    return { reason: `@temporalio/testing not installed: ${oneLine(err)}` };
  }
  const hasProxy = ['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy'].some((k) => env[k]);
  if (!hasProxy) {
    const reach = await canReach('temporal.download', 443, 5_000);
    if (reach !== true) {
      log(`skipping the SDK download: temporal.download unreachable (${reach}, ${seconds(started)})`);
      return { reason: `temporal.download unreachable: ${reach}` };
    }
  }
  await fs.mkdir(layout.sdkDownloadDir, { recursive: true });
  log(`downloading the Temporal CLI through @temporalio/testing into ${layout.sdkDownloadDir} ...`);

  const childScript = `
const [entry, downloadDir] = process.argv.slice(1);
const { TestWorkflowEnvironment } = require(entry);
TestWorkflowEnvironment.createLocal({
  server: { ip: '127.0.0.1', executable: { type: 'cached-download', downloadDir, ttl: '3650d' } },
}).then(
  async (testEnv) => { await testEnv.teardown(); process.exit(0); },
  (err) => { process.stderr.write(String((err && err.message) || err) + '\\n'); process.exit(2); },
);`;
  const outcome = await new Promise<{ code: number | null; timedOut: boolean; tail: string[] }>((resolve) => {
    const child = spawn(process.execPath, ['-e', childScript, testingEntry, layout.sdkDownloadDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      env,
    });
    const tail: string[] = [];
    const onLine = (line: string) => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      log(`  sdk: ${line}`);
    };
    forEachLine(child.stdout, onLine);
    forEachLine(child.stderr, onLine);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child.pid);
    }, timeoutMs);
    // Its own process group (so a timeout also takes down a server it may have started): make sure
    // it does not outlive us either.
    const onExit = () => killTree(child.pid);
    process.once('exit', onExit);
    child.on('error', (err) => onLine(String(err)));
    child.on('close', (code) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      resolve({ code, timedOut, tail });
    });
  });

  // The binary may be there even if the short server start failed: look regardless of the outcome.
  const downloaded = await findSdkDownload(layout.sdkDownloadDir);
  if (downloaded) {
    try {
      const version = await cliVersion(downloaded);
      await fs.mkdir(path.dirname(layout.sdkBin), { recursive: true });
      await fs.rename(downloaded, layout.sdkBin);
      log(`downloaded ${layout.sdkBin} (${version}) in ${seconds(started)}`);
      return { found: layout.sdkBin };
    } catch (err) {
      log(`downloaded file ${downloaded} is not a working CLI: ${oneLine(err)}`);
      await fs.rm(downloaded, { force: true });
    }
  }
  const why = outcome.timedOut
    ? `timed out after ${Math.round(timeoutMs / 1000)}s`
    : `failed: ${compactSdkError(outcome.tail.at(-1) ?? `exit code ${outcome.code}`)}`;
  log(`SDK download ${why} (${seconds(started)})`);
  return { reason: truncate(why, 200) };
}

/** The SDK's download errors repeat the URL and their own prefix: keep what says what went wrong. */
function compactSdkError(message: string): string {
  const parts = message.replace(/ for url \([^)]*\)/g, '').split(': ');
  return parts.filter((part, i) => part !== parts[i - 1]).join(': ');
}

async function findSdkDownload(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return null;
  }
  const candidates = names.filter((n) => n.startsWith('temporal') && !n.endsWith('.downloading'));
  for (const name of candidates) {
    const full = path.join(dir, name);
    if (await isExecutableFile(full)) return full;
  }
  return null;
}

/** (5) `GOBIN=<cache>/go-bin go install <pinned CLI>`, progress through the logger. */
async function tryGoInstall(
  layout: ReturnType<typeof cacheLayout>,
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
  log: LocatorLogger,
): Promise<StepResult> {
  let goVersion: string;
  try {
    goVersion = (await run('go', ['version'], env, 15_000)).trim();
  } catch (err) {
    log(`cannot build the CLI: go not usable (${oneLine(err)})`);
    return { reason: `go not usable: ${oneLine(err)}` };
  }
  const started = Date.now();
  await fs.mkdir(layout.goBinDir, { recursive: true });
  log(
    `building the Temporal CLI: GOBIN=${layout.goBinDir} go install ${TEMPORAL_CLI_GO_PACKAGE} (${goVersion}; takes a few minutes the first time) ...`,
  );

  const outcome = await new Promise<{ code: number | null; timedOut: boolean; tail: string[] }>((resolve) => {
    // Same process group: a Ctrl-C of the caller stops the build too.
    const child = spawn('go', ['install', '-v', `-ldflags=${GO_LDFLAGS}`, TEMPORAL_CLI_GO_PACKAGE], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Pure-Go build (the CLI's SQLite is pure Go), so no C toolchain is needed.
      env: { ...env, GOBIN: layout.goBinDir, CGO_ENABLED: env.CGO_ENABLED ?? '0' },
    });
    const tail: string[] = [];
    let built = 0;
    let lastPackage = '';
    let lastReport = Date.now();
    const onLine = (line: string) => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (/^go: |^# |\.go:\d+|^(error|fatal|cannot)\b/i.test(line)) {
        log(`  ${line}`);
      } else {
        // `-v` prints one line per compiled package: summarise rather than flood.
        built++;
        lastPackage = line.trim();
      }
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        log(`  go install: ${seconds(started)}, ${built} packages built (last: ${lastPackage})`);
      }
    };
    forEachLine(child.stdout, onLine);
    forEachLine(child.stderr, onLine);
    const heartbeat = setInterval(() => {
      if (Date.now() - lastReport >= 15_000) {
        lastReport = Date.now();
        log(`  go install: still working (${seconds(started)}, ${built} packages built)`);
      }
    }, 5_000);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => onLine(`error: ${String(err)}`));
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(heartbeat);
      resolve({ code, timedOut, tail });
    });
  });

  if (outcome.code === 0 && (await isExecutableFile(layout.goBin))) {
    try {
      const version = await cliVersion(layout.goBin);
      log(`built ${layout.goBin} (${version}) in ${seconds(started)}`);
      return { found: layout.goBin };
    } catch (err) {
      return { reason: `built binary does not answer --version: ${oneLine(err)}` };
    }
  }
  const why = outcome.timedOut
    ? `timed out after ${Math.round(timeoutMs / 1000)}s`
    : `exit code ${outcome.code}: ${outcome.tail.slice(-3).join(' | ')}`;
  log(`go install failed after ${seconds(started)}: ${why}`);
  return { reason: truncate(`failed, ${why}`, 300) };
}

/** Serialises the slow steps across processes; a lock left by a dead process is taken over. */
export async function withInstallLock<T>(
  lockPath: string,
  log: LocatorLogger,
  fn: () => Promise<T>,
  what = 'the Temporal CLI',
): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      const handle = await fs.open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const [content, stat] = await Promise.all([
      fs.readFile(lockPath, 'utf8').catch(() => ''),
      fs.stat(lockPath).catch(() => null),
    ]);
    const pid = Number(content);
    const fresh = stat !== null && Date.now() - stat.mtimeMs < 10_000;
    if (pid > 0 ? !isAlive(pid) : !fresh) {
      await fs.rm(lockPath, { force: true });
      continue;
    }
    if (!announced) {
      announced = true;
      log(`waiting for another process (pid ${pid || '?'}) that is installing ${what} ...`);
    }
    await sleep(1_000);
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}

/** `temporal --version`'s first line; throws unless it exits 0 and names itself temporal. */
async function cliVersion(file: string): Promise<string> {
  const out = (await run(file, ['--version'], process.env, VERSION_TIMEOUT_MS)).trim();
  const first = out.split('\n')[0] ?? '';
  if (!/temporal/i.test(first)) throw new Error(`--version printed ${JSON.stringify(truncate(first, 80))}`);
  return first;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout, windowsHide: true }, (err, stdout, stderr) => {
      if (err) {
        const detail = String(stderr).trim().split('\n').at(-1);
        reject(new Error(detail ? `${err.message.split('\n')[0]} (${detail})` : err.message.split('\n')[0]));
      } else {
        resolve(String(stdout));
      }
    });
  });
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, process.platform === 'win32' ? fsConstants.F_OK : fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** true, or why not: a DNS lookup and a TCP connect, each bounded, so a black-holed network fails fast. */
async function canReach(host: string, port: number, timeoutMs: number): Promise<true | string> {
  try {
    const { address } = await withTimeout(lookup(host), timeoutMs, `DNS lookup of ${host} timed out`);
    return await new Promise<true | string>((resolve) => {
      const socket = net.connect({ host: address, port });
      const done = (result: true | string) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(timeoutMs, () => done(`connect to ${host}:${port} timed out`));
      socket.once('connect', () => done(true));
      socket.once('error', (err) => done(oneLine(err)));
    });
  } catch (err) {
    return oneLine(err);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return truncate(text.replace(/\s+/g, ' ').trim(), 200);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (require.main === module) {
  const started = Date.now();
  locateTemporalCli({ logger: (line) => process.stderr.write(`[temporal-cli] ${line}\n`) }).then(
    (cliPath) => {
      process.stderr.write(`[temporal-cli] ready in ${seconds(started)}\n`);
      process.stdout.write(`${cliPath}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
