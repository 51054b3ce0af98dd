import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from './process/signals';

/** Serialises slow installs across processes; a lock left by a dead process is taken over. */
export async function withInstallLock<T>(
  lockPath: string,
  log: (line: string) => void,
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
