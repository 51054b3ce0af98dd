/** `npm run worker` / `npm run start:worker`: the lifecycle workflow and its activities, against TEMPORAL_ADDRESS. */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadWorkerConfig } from '../config';
import { createLogger } from '../logger';
import { startTracing } from '../telemetry';
import { temporalConnectConfig } from '../temporal/connection';
import { startWorkerService } from './services';
import { configOrExit, fatal } from './startup';

/**
 * Where `npm run build` puts the prebuilt workflow bundles, relative to this file compiled
 * (dist/src/main): one plain, one with the OpenTelemetry workflow interceptors for tracing workers.
 */
const BUILT_BUNDLE = path.resolve(__dirname, '..', '..', 'workflow-bundle.js');
const BUILT_TRACING_BUNDLE = path.resolve(__dirname, '..', '..', 'workflow-bundle.tracing.js');

/**
 * The prebuilt workflow bundle to load, or undefined to bundle the workflow code from source at
 * start (development, `tsx`). WORKFLOW_BUNDLE_PATH wins; compiled output (`node dist/...`) uses the
 * bundle `npm run build` wrote next to it, the tracing one when tracing is on.
 */
function workflowBundlePath(env: NodeJS.ProcessEnv, tracing: boolean): string | undefined {
  const configured = env.WORKFLOW_BUNDLE_PATH?.trim();
  if (configured) {
    const file = path.resolve(configured);
    if (!existsSync(file) || !statSync(file).isFile()) {
      throw new ConfigError([
        { variable: 'WORKFLOW_BUNDLE_PATH', message: `${JSON.stringify(configured)} is not a file` },
      ]);
    }
    return file;
  }
  const built = tracing ? BUILT_TRACING_BUNDLE : BUILT_BUNDLE;
  if (__filename.endsWith('.js') && existsSync(built)) return built;
  return undefined;
}

async function main(): Promise<void> {
  const config = configOrExit(() => loadWorkerConfig(process.env));
  const temporal = configOrExit(() => temporalConnectConfig(process.env));
  const logger = createLogger({ level: config.logLevel, base: { service: 'worker' } });
  const tracing = configOrExit(() => startTracing('zego-transcode-worker', process.env, { logger }));
  const bundlePath = configOrExit(() => workflowBundlePath(process.env, tracing !== null));
  const service = await startWorkerService(config, temporal, logger, {
    workflowBundlePath: bundlePath,
    tracing,
  });
  logger.info(
    {
      taskQueue: config.taskQueue,
      namespace: temporal.namespace,
      database: service.db.kind,
      workflowBundle: bundlePath ?? 'bundled from source at start',
      tracing: tracing?.serviceName ?? 'off',
      maxCachedWorkflows: config.maxCachedWorkflows,
    },
    'worker started',
  );
  // The Temporal runtime handles SIGINT/SIGTERM itself: it stops polling and drains in-flight work.
  await service.run();
  await tracing?.shutdown();
  logger.info('worker stopped');
}

main().catch(fatal);
