/** Step "verify": is a file an executable, and a temporal CLI that answers `--version`? */
import { execFile } from 'node:child_process';
import { promises as fs, constants as fsConstants } from 'node:fs';
import { truncate } from '../format';

const VERSION_TIMEOUT_MS = 15_000;

export const EXE_SUFFIX = process.platform === 'win32' ? '.exe' : '';
export const CLI_NAME = `temporal${EXE_SUFFIX}`;

export type LocatorLogger = (line: string) => void;

/** What a step found, or why it found nothing. */
export type StepResult = { found: string; reason?: undefined } | { found?: undefined; reason: string };

/** `temporal --version`'s first line; throws unless it exits 0 and names itself temporal. */
export async function cliVersion(file: string): Promise<string> {
  const out = (await run(file, ['--version'], process.env, VERSION_TIMEOUT_MS)).trim();
  const first = out.split('\n')[0] ?? '';
  if (!/temporal/i.test(first)) throw new Error(`--version printed ${JSON.stringify(truncate(first, 80))}`);
  return first;
}

/** Runs a command to completion; rejects with its first error line and the last line of its stderr. */
export function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<string> {
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

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, process.platform === 'win32' ? fsConstants.F_OK : fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
