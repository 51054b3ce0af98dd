/**
 * `npm run dev`: the embedded default. A Temporal dev server persisting under DATA_DIR, the worker
 * and the HTTP server in one process; prints where to send callbacks and the secret in use.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDevConfig, variablesSet } from '../config';
import { createLogger } from '../logger';
import { startTracing } from '../telemetry';
import { locateTemporalCli } from '../../tools/temporal-cli';
import { startDevServer } from '../../tools/temporal-dev-server';
import { startHttpService, startWorkerService } from './services';
import { configOrExit, fatal, onShutdownSignal } from './startup';

/** A generated secret is kept under DATA_DIR so a restart keeps accepting the same credentials. */
function persistedSecret(name: string): (dataDir: string) => string {
  return (dataDir) => {
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, name);
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    const secret = randomBytes(24).toString('base64url');
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    return secret;
  };
}

async function main(): Promise<void> {
  const config = configOrExit(() =>
    loadDevConfig(process.env, {
      generateSecret: persistedSecret('callback-secret'),
      generateAdminToken: persistedSecret('admin-token'),
    }),
  );
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const logger = createLogger({ level: config.logLevel, base: { service: 'dev' } });
  const tracing = configOrExit(() => startTracing('zego-transcode-dev', process.env, { logger }));

  const cliPath = await locateTemporalCli({ logger: (line) => logger.info(line) });
  const devServer = await startDevServer({
    cliPath,
    port: config.temporalDevPort,
    uiPort: config.temporalDevUiPort,
    dbFilename: join(dataDir, 'temporal.db'),
    logger: (line) => logger.debug({ component: 'temporal' }, line),
  });
  const temporal = { connectionOptions: { address: devServer.address }, namespace: devServer.namespace };
  const worker = await startWorkerService(config, temporal, logger.child({ component: 'worker' }), {
    tracing,
  });
  const running = worker.run();
  // The inbox, usage reports and alerts live in the worker's own database (PGlite allows one
  // opener per directory). The console links workflows into the dev server's own UI unless
  // TEMPORAL_UI_URL says otherwise.
  const serverConfig = { ...config, temporalUiUrl: config.temporalUiUrl ?? devServer.uiUrl ?? undefined };
  const http = await startHttpService(serverConfig, temporal, logger.child({ component: 'server' }), {
    db: worker.db,
    tracing,
  });

  const lines = [
    '',
    'zego-transcode-lifecycle is running (embedded)',
    `  callback URL     ${http.url}/zego/callback`,
    `  console          ${http.adminUrl}/console (sign in with the admin token)`,
    `  task queries     ${http.adminUrl}/tasks?status=running`,
    `  usage reports    ${http.adminUrl}/usage?appId=<appId>&from=<YYYY-MM-DD>&to=<YYYY-MM-DD>`,
    `  Temporal UI      ${devServer.uiUrl ?? '(headless)'}`,
    `  Temporal gRPC    ${devServer.address} (namespace ${devServer.namespace})`,
    `  callback secret  ${config.callbackSecrets[0]}${
      config.generatedCallbackSecret ? ` (generated, kept in ${join(dataDir, 'callback-secret')})` : ''
    }`,
    `  admin token      ${config.adminTokens[0]}${
      config.generatedAdminToken ? ` (generated, kept in ${join(dataDir, 'admin-token')})` : ''
    }`,
    `  data             ${dataDir}`,
    `  configuration    ${variablesSet(process.env, 'dev').join(', ') || 'defaults'} (all: docs/configuration.md)`,
    ...(tracing ? [`  tracing          on (service ${tracing.serviceName})`] : []),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');

  onShutdownSignal(async () => {
    await http.close();
    await worker.shutdown();
    await running;
    await devServer.stop();
    await tracing?.shutdown();
  });
  await running;
}

main().catch(fatal);
