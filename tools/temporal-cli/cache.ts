/** Step "cache": `<projectRoot>/.cache/temporal-cli`, where downloaded or built CLIs are kept. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { oneLine } from '../format';
import { findProjectRoot } from '../project';
import { CLI_NAME, cliVersion, isExecutableFile, type LocatorLogger } from './verify';

export function temporalCliCacheDir(projectRoot: string = findProjectRoot()): string {
  return path.join(projectRoot, '.cache', 'temporal-cli');
}

export interface CacheLayout {
  /** Where the SDK download ends up once verified (moved out of `sdkDownloadDir`). */
  sdkBin: string;
  sdkDownloadDir: string;
  goBinDir: string;
  goBin: string;
  lock: string;
}

export function cacheLayout(cacheDir: string): CacheLayout {
  return {
    sdkBin: path.join(cacheDir, 'bin', CLI_NAME),
    sdkDownloadDir: path.join(cacheDir, 'sdk-download'),
    goBinDir: path.join(cacheDir, 'go-bin'),
    goBin: path.join(cacheDir, 'go-bin', CLI_NAME),
    lock: path.join(cacheDir, 'install.lock'),
  };
}

/** A working cached CLI (a broken one is removed), or null. */
export async function findInCache(layout: CacheLayout, log: LocatorLogger): Promise<string | null> {
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
