/** Steps "explicit path" and "PATH": a temporal CLI the environment already names or has. */
import path from 'node:path';
import { oneLine } from '../format';
import { CLI_NAME, cliVersion, isExecutableFile, type LocatorLogger, type StepResult } from './verify';

export class TemporalCliNotFoundError extends Error {
  override name = 'TemporalCliNotFoundError';
}

/** TEMPORAL_CLI_PATH: if set, it must work (never fall through silently); null when unset. */
export async function findExplicit(env: NodeJS.ProcessEnv, log: LocatorLogger): Promise<string | null> {
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit === undefined || explicit === '') return null;
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

export async function findOnPath(env: NodeJS.ProcessEnv, log: LocatorLogger): Promise<StepResult> {
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
