/** Start-up helpers shared by the entry points: bad configuration is one line and exit code 2. */
import { ConfigError } from '../config';
import { TemporalConfigError } from '../temporal/connection';

export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TemporalConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Last resort for start-up failures (database or Temporal unreachable, port taken): one line, exit 1. */
export function fatal(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`fatal: ${message.split('\n')[0]}\n`);
  process.exit(1);
}

/** Runs `stop` once on SIGINT/SIGTERM; a second signal exits at once. */
export function onShutdownSignal(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(130);
      stopping = true;
      stop(signal).then(
        () => process.exit(0),
        (err) => fatal(err),
      );
    });
  }
}
