/** `npm run server`: the HTTP server (callbacks, task queries, health, metrics). */
import { loadServerConfig } from '../config';
import { createLogger } from '../logger';
import { startTracing } from '../telemetry';
import { temporalConnectConfig } from '../temporal/connection';
import { startHttpService } from './services';
import { configOrExit, fatal, onShutdownSignal } from './startup';

async function main(): Promise<void> {
  const config = configOrExit(() => loadServerConfig(process.env));
  const temporal = configOrExit(() => temporalConnectConfig(process.env));
  const logger = createLogger({ level: config.logLevel, base: { service: 'server' } });
  const tracing = configOrExit(() => startTracing('zego-transcode-server', process.env, { logger }));
  const http = await startHttpService(config, temporal, logger, { tracing });
  logger.info(
    {
      url: http.url,
      namespace: temporal.namespace,
      taskQueue: config.taskQueue,
      tracing: tracing?.serviceName ?? 'off',
    },
    'server listening',
  );
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    await http.close();
    await tracing?.shutdown();
  });
}

main().catch(fatal);
