/**
 * Wiring: the one place that constructs connections, stores and servers from a validated config.
 * Entry points (worker.ts, server.ts, dev.ts) and the integration tests both start services here.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createWorkerActivities } from '../../activities';
import { registeredFollowUps, type FollowUp } from '../../activities/follow-ups';
import { ZegoApiClient } from '../zego/api-client';
import { lifecycleSettings, type ServerConfig, type WorkerConfig } from '../config';
import type express from 'express';
import { createApp, type AppDeps } from '../http/app';
import { createMetrics } from '../http/metrics';
import type { LifecycleGateway } from '../http/ports';
import type { Logger } from '../logger';
import { createNonceStore, openDatabase } from '../store';
import type { Database, NonceStore } from '../store/types';
import { SqlUsageReader, type UsageReader } from '../store/usage';
import type { TemporalConnectConfig } from '../temporal/connection';
import { TemporalLifecycleGateway } from '../temporal/lifecycle-gateway';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { installTemporalRuntime } from '../temporal/runtime';
import { createLifecycleWorker } from '../temporal/worker';
import { traceRequests, workflowClientInterceptors, type Tracing } from '../telemetry';

export interface WorkerService {
  worker: Worker;
  db: Database;
  /** Resolves when the worker has stopped (after `shutdown()` or a shutdown signal). */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

export async function startWorkerService(
  config: Omit<WorkerConfig, 'role'>,
  temporal: TemporalConnectConfig,
  logger: Logger,
  opts: {
    workflowBundlePath?: string;
    identity?: string;
    db?: Database;
    /** Follow-ups besides the registered ones (tests register their own here). */
    followUps?: readonly FollowUp[];
    /** Defaults to a client from config.zegoApi. */
    zegoApi?: ZegoApiClient | null;
    env?: Record<string, string | undefined>;
    /** From startTracing: activity and workflow spans (else none). */
    tracing?: Tracing | null;
  } = {},
): Promise<WorkerService> {
  const db =
    opts.db ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger }));
  const operator = await Connection.connect(temporal.connectionOptions);
  try {
    await ensureSearchAttributes(operator, temporal.namespace, logger);
  } finally {
    await operator.close();
  }
  installTemporalRuntime(logger, config.workerMetricsAddress);
  const connection = await NativeConnection.connect(temporal.connectionOptions);
  const activityLogger = logger.child({ component: 'activities' });
  const followUps = [
    ...registeredFollowUps({ config, env: opts.env ?? process.env, logger: activityLogger, fetch }),
    ...(opts.followUps ?? []),
  ];
  const zegoApi =
    opts.zegoApi !== undefined
      ? opts.zegoApi
      : config.zegoApi && new ZegoApiClient({ ...config.zegoApi, baseUrl: config.zegoApi.baseUrl });
  const activities = createWorkerActivities({
    db,
    prices: config.billing.prices,
    unknownResolutionTier: config.billing.unknownResolutionTier,
    alertWebhookUrl: config.alertWebhookUrl,
    logger: activityLogger,
    zegoApi,
    followUps,
  });
  const worker = await createLifecycleWorker({
    connection,
    namespace: temporal.namespace,
    taskQueue: config.taskQueue,
    activities,
    workflowBundlePath: opts.workflowBundlePath,
    identity: opts.identity,
    tracing: opts.tracing,
    maxCachedWorkflows: config.maxCachedWorkflows,
  });
  let running: Promise<void> | undefined;
  const run = () =>
    (running ??= worker.run().finally(async () => {
      await connection.close();
      if (!opts.db) await db.close();
    }));
  return {
    worker,
    db,
    run,
    async shutdown() {
      const done = run();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

/** Longest a shutdown waits for requests in flight (a hand-off is bounded by HANDOFF_TIMEOUT). */
const SHUTDOWN_GRACE_MS = 15_000;

export interface HttpService {
  /** Where callbacks go (PORT). */
  url: string;
  /** Where the admin surface answers: `url`, or the ADMIN_PORT listener. */
  adminUrl: string;
  server: Server;
  gateway: TemporalLifecycleGateway;
  client: Client;
  nonces: NonceStore;
  /** Stops accepting, lets in-flight requests (hand-offs) finish, then closes connections. */
  close(): Promise<void>;
}

export async function startHttpService(
  config: Omit<ServerConfig, 'role'>,
  temporal: TemporalConnectConfig,
  logger: Logger,
  opts: {
    now?: () => number;
    /** Usage reports (GET /usage); default: over DATABASE_URL when set, else none (503). */
    usage?: UsageReader;
    /** From startTracing: a span per request, its context carried into Temporal (else none). */
    tracing?: Tracing | null;
  } = {},
): Promise<HttpService> {
  const { tracing } = opts;
  // Lazy: the server starts (and answers /healthz, 503 on callbacks) while Temporal is down.
  const connection = Connection.lazy(temporal.connectionOptions);
  const client = new Client({
    connection,
    namespace: temporal.namespace,
    ...(tracing ? { interceptors: workflowClientInterceptors(tracing) } : {}),
  });
  const gateway = new TemporalLifecycleGateway({
    client,
    taskQueue: config.taskQueue,
    settings: lifecycleSettings(config),
    handoffTimeoutMs: config.handoffTimeoutMs,
    logger,
  });
  const nonces = await createNonceStore({ databaseUrl: config.databaseUrl });
  // The ledger, read-only, for usage reports; only PostgreSQL is reachable from a separate server.
  let ledgerDb: Database | undefined;
  let usage = opts.usage;
  if (!usage && config.databaseUrl?.trim()) {
    try {
      ledgerDb = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
    } catch (err) {
      await nonces.close();
      throw err;
    }
    usage = new SqlUsageReader(ledgerDb.sql);
  }
  // Draining (SIGTERM): /readyz answers 503 so load balancers stop sending, in-flight hand-offs finish.
  let draining = false;
  const served: LifecycleGateway = {
    deliver: (payload) => gateway.deliver(payload),
    getTask: (appId, taskId) => gateway.getTask(appId, taskId),
    appsForTask: (taskId) => gateway.appsForTask(taskId),
    list: (filter) => gateway.list(filter),
    isReady: async () => !draining && (await gateway.isReady()),
  };
  const appDeps: AppDeps = {
    gateway: served,
    isDraining: () => draining,
    nonces,
    logger,
    metrics: createMetrics(),
    secrets: config.callbackSecrets,
    maxSkewMs: config.callbackMaxSkewMs,
    now: opts.now,
    usage,
    adminTokens: config.adminTokens,
    temporalUi: config.temporalUiUrl
      ? { url: config.temporalUiUrl, namespace: temporal.namespace }
      : undefined,
  };
  const untraced = ['/healthz', '/readyz', '/metrics'];
  const listen = (app: express.Application, port: number, host: string) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer(tracing ? traceRequests(tracing, app, untraced) : app);
      s.once('error', reject);
      s.listen(port, host, () => resolve(s));
    });
  // With ADMIN_PORT the admin surface (token-guarded either way) listens apart, e.g. privately.
  const server = await listen(
    createApp(appDeps, config.adminListener ? 'public' : 'all'),
    config.port,
    config.host,
  );
  let adminServer: Server | undefined;
  if (config.adminListener) {
    try {
      adminServer = await listen(
        createApp(appDeps, 'admin'),
        config.adminListener.port,
        config.adminListener.host,
      );
    } catch (err) {
      server.close();
      throw err;
    }
  }
  const urlOf = (s: Server, configuredHost: string) => {
    const { port } = s.address() as AddressInfo;
    const host = configuredHost === '0.0.0.0' || configuredHost === '::' ? '127.0.0.1' : configuredHost;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  };
  const url = urlOf(server, config.host);
  const servers = adminServer ? [server, adminServer] : [server];
  return {
    url,
    adminUrl: adminServer && config.adminListener ? urlOf(adminServer, config.adminListener.host) : url,
    server,
    gateway,
    client,
    nonces,
    async close() {
      draining = true;
      if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
      // Stop accepting; requests in flight (hand-offs to Temporal) finish and are answered.
      const closed = Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
      const started = Date.now();
      const closeIdle = () => {
        for (const s of servers) {
          s.closeIdleConnections();
          if (Date.now() - started > SHUTDOWN_GRACE_MS) s.closeAllConnections();
        }
      };
      const sweep = setInterval(closeIdle, 50);
      closeIdle();
      await closed;
      clearInterval(sweep);
      await nonces.close();
      await ledgerDb?.close();
      await connection.close();
    },
  };
}
