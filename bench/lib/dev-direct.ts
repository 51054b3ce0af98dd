/**
 * Section 7's baseline, run as a child by dev-mode.ts: `npm run dev`'s one process (src/main/dev.ts:
 * the dev server on a SQLite file in WAL mode, the worker with its embedded database, the HTTP
 * server) except that the HTTP server gets no database, so it hands each callback to Temporal
 * before answering: the direct hand-off, the dev mode as it was before the inbox.
 */
import { join, resolve } from 'node:path';
import { loadDevConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startHttpService, startWorkerService } from '../../src/main/services';
import { fatal, onShutdownSignal } from '../../src/main/startup';
import { locateTemporalCli } from '../../tools/temporal-cli';
import { startDevServer } from '../../tools/temporal-dev-server';

async function main(): Promise<void> {
  const config = loadDevConfig(process.env);
  const dataDir = resolve(config.dataDir);
  const logger = createLogger({ level: config.logLevel, base: { service: 'dev-direct' } });
  const devServer = await startDevServer({
    cliPath: await locateTemporalCli(),
    port: config.temporalDevPort,
    uiPort: config.temporalDevUiPort,
    dbFilename: join(dataDir, 'temporal.db'),
    logger: (line) => logger.debug({ component: 'temporal' }, line),
  });
  const temporal = { connectionOptions: { address: devServer.address }, namespace: devServer.namespace };
  const worker = await startWorkerService(config, temporal, logger.child({ component: 'worker' }));
  const running = worker.run();
  const http = await startHttpService(config, temporal, logger.child({ component: 'server' }));
  process.stdout.write(`callback URL ${http.url}/zego/callback (direct hand-off)\n`);
  onShutdownSignal(async () => {
    await http.close();
    await worker.shutdown();
    await running;
    await devServer.stop();
  });
  await running;
}

main().catch(fatal);
