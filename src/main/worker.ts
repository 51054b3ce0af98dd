/** `npm run worker`: the lifecycle workflow and its activities, against TEMPORAL_ADDRESS. */
import { loadWorkerConfig } from '../config';
import { createLogger } from '../logger';
import { temporalConnectConfig } from '../temporal/connection';
import { startWorkerService } from './services';
import { configOrExit, fatal } from './startup';

async function main(): Promise<void> {
  const config = configOrExit(() => loadWorkerConfig(process.env));
  const temporal = configOrExit(() => temporalConnectConfig(process.env));
  const logger = createLogger({ level: config.logLevel, base: { service: 'worker' } });
  const service = await startWorkerService(config, temporal, logger);
  logger.info(
    { taskQueue: config.taskQueue, namespace: temporal.namespace, database: service.db.kind },
    'worker started',
  );
  // The Temporal runtime handles SIGINT/SIGTERM itself: it stops polling and drains in-flight work.
  await service.run();
  logger.info('worker stopped');
}

main().catch(fatal);
