/**
 * The Temporal SDK runtime of a worker process: its logs (TypeScript side and Rust core, WARN and
 * above from core) go to pino, so one process writes one structured log stream.
 */
import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
import type { Logger } from '../logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly pino: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.pino[LEVELS[level]]({ ...meta }, message);
  }
  trace(message: string, meta?: LogMetadata) {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata) {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata) {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata) {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata) {
    this.log('ERROR', message, meta);
  }
}

let installed = false;

/**
 * Installs the process-wide runtime once; later calls (several workers in one process) reuse it.
 * With `metricsAddress`, the SDK's own Prometheus exporter serves worker metrics (task slots,
 * poll and schedule-to-start latencies, workflow and activity outcomes) at http://<address>/metrics.
 */
export function installTemporalRuntime(logger: Logger, metricsAddress?: string): void {
  if (installed) return;
  installed = true;
  try {
    Runtime.install({
      logger: new PinoTemporalLogger(logger.child({ source: 'temporal-sdk' })),
      telemetryOptions: {
        logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
        ...(metricsAddress ? { metrics: { prometheus: { bindAddress: metricsAddress } } } : {}),
      },
    });
  } catch {
    // Already instantiated by someone else in this process (e.g. a test environment): keep theirs.
  }
}
