/**
 * Finds (or provides) a working `temporal` CLI, the binary behind the embedded dev server.
 *
 * Order: (1) TEMPORAL_CLI_PATH, (2) `temporal` on PATH (find.ts), (3) this project's cache
 * `.cache/temporal-cli/` (cache.ts: what an earlier call downloaded or built), (4) the Temporal
 * SDK's own cached download (sdk-download.ts, needs temporal.download), (5) `go install` of the
 * pinned CLI release (go-build.ts). Whatever (4) or (5) produce stays in the cache, so the next
 * call is instant. `npm run temporal:cli` runs it as a script (cli.ts).
 */
import { promises as fs } from 'node:fs';
import { withInstallLock } from '../install-lock';
import { findProjectRoot } from '../project';
import { cacheLayout, findInCache, temporalCliCacheDir } from './cache';
import { findExplicit, findOnPath, TemporalCliNotFoundError } from './find';
import { TEMPORAL_CLI_GO_PACKAGE, tryGoInstall } from './go-build';
import { trySdkDownload } from './sdk-download';
import type { LocatorLogger } from './verify';

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

export async function locateTemporalCli(opts: LocateTemporalCliOptions = {}): Promise<string> {
  const log: LocatorLogger = opts.logger ?? (() => undefined);
  const env = opts.env ?? process.env;
  const tried: string[] = [];

  // (1) Explicit path.
  const explicit = await findExplicit(env, log);
  if (explicit) return explicit;
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
