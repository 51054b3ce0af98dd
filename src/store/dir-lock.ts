/**
 * A lock file beside the embedded database: PGlite is one process's database, and two processes
 * (or two instances in one process) opening the same directory would corrupt it. The file holds
 * the owner's pid; a file left by a process that is gone (crash, container restart) is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAlive } from '../../tools/process/signals';

/** Lock files held by this process (a second open in the same process is refused too). */
const held = new Set<string>();

export function acquireDirLock(lockFile: string, describe: string): () => void {
  const file = path.resolve(lockFile);
  if (held.has(file)) {
    throw new Error(`${describe} is already open in this process (close it first)`);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      held.add(file);
      return () => release(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readPid(file);
    // A file naming this very pid but not held here was left by an earlier process that had the
    // same pid (typical for containers: pid 1 on every start).
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
      throw new Error(
        `${describe} is in use by process ${owner} (lock file ${file}); the embedded database serves one ` +
          'process: stop the other one, or set DATABASE_URL to share a PostgreSQL database',
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new Error(`could not take the lock file ${file}`);
}

function release(file: string): void {
  if (!held.delete(file)) return;
  try {
    if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
  } catch {
    // best effort: a leftover file is taken over by the next open
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
