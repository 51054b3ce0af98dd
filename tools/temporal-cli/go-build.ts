/** Step "build": `GOBIN=<cache>/go-bin go install <pinned CLI>`, progress through the logger. */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { oneLine, seconds, truncate } from '../format';
import { forEachLine } from '../process/child-output';
import type { CacheLayout } from './cache';
import { cliVersion, isExecutableFile, run, type LocatorLogger, type StepResult } from './verify';

/** The CLI release built by the `go install` fallback (later tags carry a replace directive). */
export const TEMPORAL_CLI_GO_PACKAGE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
/** What the release builds set, so `temporal --version` tells the truth instead of 0.0.0-DEV. */
const GO_LDFLAGS = '-s -w -X github.com/temporalio/cli/temporalcli.Version=1.5.1';

export async function tryGoInstall(
  layout: CacheLayout,
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
