// The watchdog itself (see watchdog.ts): `node watchdog-child.js <parent pid> <child pid> <grace ms>`.
// Plain JavaScript with nothing to load, so it starts in milliseconds without tsx and runs from
// dist/ as it does from the source tree.
/* global process, setInterval, clearInterval, setTimeout */
'use strict';

const [parent, child, graceMs] = process.argv.slice(2).map(Number);
// tools/process/signals.ts's isAlive, which this standalone script cannot import.
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};
const signal = (sig) => {
  try {
    process.kill(child, sig);
  } catch {
    // already gone
  }
};
const timer = setInterval(() => {
  if (!alive(child)) process.exit(0);
  if (process.ppid !== parent || !alive(parent)) {
    clearInterval(timer);
    signal('SIGTERM');
    setTimeout(() => {
      signal('SIGKILL');
      process.exit(0);
    }, graceMs);
  }
}, 500);
