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
import type { CallbackRecorder, DependencyState, ReadinessReport } from '../http/ports';
import type { Logger } from '../logger';
import { MemoryNonceStore, openDatabase, type InboxEntry } from '../store';
import type { AlertEntry, Database, NonceStore } from '../store/types';
import { SqlUsageReader } from '../store/usage';
import type { TemporalConnectConfig } from '../temporal/connection';
import { keepCallContextCheap, ServerCalls, within } from '../temporal/deadlines';
import { TemporalLifecycleGateway } from '../temporal/lifecycle-gateway';
import { ensureSearchAttributes, searchAttributesUsable } from '../temporal/search-attributes';
import { installTemporalRuntime } from '../temporal/runtime';
import { createLifecycleWorker } from '../temporal/worker';
import { traceRequests, workflowClientInterceptors, type Tracing } from '../telemetry';
import { AlertRaiser } from '../alerts/raiser';
import type { DeliveryFailure } from '../inbox/classify';
import { BacklogAlert } from '../inbox/backlog-alert';
import { InboxMaintenance } from '../inbox/maintenance';
import { createInboxMetrics } from '../inbox/metrics';
import { InboxMonitor } from '../inbox/monitor';
import { DirectRecorder, InboxRecorder } from '../inbox/recorders';
import { InboxRelay } from '../inbox/relay';

/** Longest a server waits to connect to (or for a free connection of) its database. */
const CONNECT_TIMEOUT_MS = 5_000;

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

/** Longest a shutdown waits for requests in flight (each is bounded by HANDOFF_TIMEOUT). */
const SHUTDOWN_GRACE_MS = 15_000;
/** How long /readyz waits for each dependency. */
const READINESS_TIMEOUT_MS = 1_500;

export interface HttpService {
  /** Where callbacks go (PORT). */
  url: string;
  /** Where the admin surface answers: `url`, or the ADMIN_PORT listener. */
  adminUrl: string;
  server: Server;
  gateway: TemporalLifecycleGateway;
  client: Client;
  /** `inbox`: callbacks are recorded in the database and relayed; `direct`: handed to Temporal at once. */
  mode: CallbackRecorder['mode'];
  /** The inbox relay of this replica (inbox mode). */
  relay: InboxRelay | undefined;
  /** The database the inbox lives in (inbox mode). */
  db: Database | undefined;
  /** Stops accepting, finishes requests and deliveries in flight, then closes connections. */
  close(): Promise<void>;
}

export async function startHttpService(
  config: Omit<ServerConfig, 'role'>,
  temporal: TemporalConnectConfig,
  logger: Logger,
  opts: {
    now?: () => number;
    /**
     * A database opened by the caller (`npm run dev`: the worker's embedded one, which allows one
     * opener): the inbox, usage reports and alerts live there. Default: DATABASE_URL's, else none.
     */
    db?: Database;
    /** From startTracing: a span per request, its context carried into Temporal (else none). */
    tracing?: Tracing | null;
  } = {},
): Promise<HttpService> {
  const { tracing } = opts;
  // Lazy: the server starts (and answers /healthz) while Temporal is down. gRPC's reconnect backoff
  // grows to 2 minutes by default: after a long outage the relay would sit idle that long once
  // Temporal is back. The relay has a backoff of its own; the channel only needs to keep up.
  // Deadlines without AsyncLocalStorage, and a drain before close (src/temporal/deadlines.ts).
  // The database that records callbacks (opened below): with it, the relay retries hand-offs.
  const ownsDb = !opts.db && Boolean(config.databaseUrl?.trim());
  const calls = new ServerCalls(Math.max(config.handoffTimeoutMs, 10_000), config.handoffTimeoutMs, {
    relayRetries: ownsDb || Boolean(opts.db),
  });
  const connection = Connection.lazy({
    ...temporal.connectionOptions,
    interceptors: calls.interceptors(),
    channelArgs: {
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 5_000,
    },
  });
  keepCallContextCheap(connection);
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
  const metrics = createMetrics();

  // The database that records callbacks. Its pool answers within HANDOFF_TIMEOUT or not at all.
  const db =
    opts.db ??
    (ownsDb
      ? await openDatabase({
          databaseUrl: config.databaseUrl,
          dataDir: config.dataDir,
          logger,
          pool: { connectTimeoutMs: Math.min(config.handoffTimeoutMs, CONNECT_TIMEOUT_MS) },
        })
      : undefined);

  let relay: InboxRelay | undefined;
  let monitor: InboxMonitor | undefined;
  let maintenance: InboxMaintenance | undefined;
  let raiser: AlertRaiser | undefined;
  let nonces: NonceStore | undefined;
  let recorder: CallbackRecorder;
  const registerSearchAttributes = async () => {
    await ensureSearchAttributes(connection, temporal.namespace, logger);
  };
  if (db) {
    const inboxMetrics = createInboxMetrics(metrics.registry);
    raiser = new AlertRaiser({ alerts: db.alerts, logger, webhookUrl: config.alertWebhookUrl });
    const alerts = raiser;
    relay = new InboxRelay({
      inbox: db.inbox,
      gateway,
      logger,
      metrics: inboxMetrics,
      handoffTimeoutMs: config.handoffTimeoutMs,
      concurrency: config.relayConcurrency,
      onRejected: async (entry, failure) => {
        await alerts.raise(callbackRejectedAlert(entry, failure));
      },
      registerSearchAttributes,
    });
    recorder = new InboxRecorder(db.inbox, relay);
    const backlog = new BacklogAlert({
      alerts: db.alerts,
      raiser,
      thresholdMs: config.callbackBacklogAlertAfterMs,
      logger,
    });
    monitor = new InboxMonitor({
      inbox: db.inbox,
      metrics: inboxMetrics,
      logger,
      onStats: (stats) => backlog.onStats(stats),
    });
    maintenance = new InboxMaintenance({ inbox: db.inbox, retentionMs: config.callbackRetentionMs, logger });
    relay.start();
    monitor.start();
    maintenance.start();
  } else {
    nonces = new MemoryNonceStore({ logger });
    recorder = new DirectRecorder(nonces, gateway);
    logger.warn(
      'no DATABASE_URL: callbacks are handed to Temporal before they are answered (no inbox: a ' +
        'callback refused while Temporal is away is lost once ZEGO stops retrying); one replica only',
    );
  }
  // Like the worker, make sure the search attributes exist (a fresh namespace); never blocks start-up.
  registerSearchAttributes().catch((err: unknown) =>
    logger.warn({ err: errorText(err) }, 'search attributes not checked yet (Temporal unreachable?)'),
  );

  // Draining (SIGTERM): /readyz answers 503 so load balancers stop sending, in-flight requests finish.
  let draining = false;
  const searchAttributesReady = searchAttributeCheck(
    connection,
    temporal.namespace,
    registerSearchAttributes,
  );
  const readiness = async (): Promise<ReadinessReport> => {
    const mode = recorder.mode;
    const temporalUp = gateway.isReady(READINESS_TIMEOUT_MS);
    if (db) {
      const [database, reachable] = await Promise.all([
        db.sql.query('SELECT 1', [], { timeoutMs: READINESS_TIMEOUT_MS }).then(
          () => true,
          () => false,
        ),
        temporalUp,
      ]);
      const relayState = relay?.status().temporal ?? 'up';
      const attributes = reachable && relayState !== 'waiting' && (await searchAttributesReady());
      const dependencies: DependencyState[] = [
        { dependency: 'database', ready: database },
        { dependency: 'temporal', ready: reachable && relayState !== 'away' },
        { dependency: 'search_attributes', ready: attributes },
      ];
      const status =
        draining || !database ? 'not_ready' : dependencies.every((d) => d.ready) ? 'ready' : 'degraded';
      return { status, mode, dependencies };
    }
    const reachable = await temporalUp;
    const attributes = reachable && (await searchAttributesReady());
    const dependencies: DependencyState[] = [
      { dependency: 'temporal', ready: reachable },
      { dependency: 'search_attributes', ready: attributes },
    ];
    return { status: !draining && reachable && attributes ? 'ready' : 'not_ready', mode, dependencies };
  };

  const appDeps: AppDeps = {
    gateway,
    recorder,
    readiness,
    isDraining: () => draining,
    logger,
    metrics,
    secrets: config.callbackSecrets,
    maxSkewMs: config.callbackMaxSkewMs,
    handoffTimeoutMs: config.handoffTimeoutMs,
    now: opts.now,
    usage: db ? new SqlUsageReader(db.sql) : undefined,
    inbox: db?.inbox,
    alerts: db?.alerts,
    onRedeliver: () => relay?.kick(),
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
  const servers: Server[] = [];
  const stopBackground = async () => {
    await relay?.stop();
    await Promise.all([monitor?.stop(), maintenance?.stop(), raiser?.close(), nonces?.close()]);
    if (ownsDb) await db?.close();
    await calls.drain();
    await connection.close();
  };
  try {
    // With ADMIN_PORT the admin surface (token-guarded either way) listens apart, e.g. privately.
    servers.push(
      await listen(createApp(appDeps, config.adminListener ? 'public' : 'all'), config.port, config.host),
    );
    if (config.adminListener) {
      servers.push(
        await listen(createApp(appDeps, 'admin'), config.adminListener.port, config.adminListener.host),
      );
    }
  } catch (err) {
    for (const s of servers) s.close();
    await stopBackground();
    throw err;
  }
  const urlOf = (s: Server, configuredHost: string) => {
    const { port } = s.address() as AddressInfo;
    const host = configuredHost === '0.0.0.0' || configuredHost === '::' ? '127.0.0.1' : configuredHost;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  };
  const url = urlOf(servers[0], config.host);
  return {
    url,
    adminUrl: servers[1] && config.adminListener ? urlOf(servers[1], config.adminListener.host) : url,
    server: servers[0],
    gateway,
    client,
    mode: recorder.mode,
    relay,
    db,
    async close() {
      draining = true;
      if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
      // Stop accepting; requests in flight finish and are answered.
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
      // Deliveries in flight finish; what is left stays pending for the other replicas.
      await stopBackground();
    },
  };
}

/**
 * Whether the namespace has the lifecycle's search attributes (direct mode needs them before a
 * callback can go through). Remembered once true; a refusal to list them (Temporal Cloud's API keys)
 * counts as present: there they are managed in the Cloud UI.
 */
/**
 * Readiness of the search attributes: usable by a callback (searchAttributesUsable), confirmed once
 * and then taken as given. While they are not, it registers them again (at most every few seconds):
 * the start-up registration may have met a namespace that did not exist yet.
 */
function searchAttributeCheck(
  connection: Connection,
  namespace: string,
  register: () => Promise<void>,
): () => Promise<boolean> {
  let confirmed = false;
  let lastRegistration = 0;
  return async () => {
    if (confirmed) return true;
    const check = await within(READINESS_TIMEOUT_MS, 'countWorkflowExecutions', () =>
      searchAttributesUsable(connection, namespace),
    ).catch(() => null);
    confirmed = check?.usable === true;
    if (check && !check.usable && check.unusable !== 'other' && Date.now() - lastRegistration > 5_000) {
      lastRegistration = Date.now();
      register().catch(() => undefined);
    }
    return confirmed;
  };
}

function callbackRejectedAlert(entry: InboxEntry, failure: DeliveryFailure): AlertEntry {
  return {
    // A redelivery that is refused again raises a new alert.
    key: `callback_rejected:${entry.id}:${entry.redeliveries}`,
    kind: 'callback_rejected',
    appId: entry.appId,
    taskId: entry.taskId,
    userId: entry.payload.userId,
    workflowId: entry.workflowId,
    lifecycleId: '',
    reason: `Temporal refused callback ${entry.id} (${entry.event} Sequence ${entry.sequence}) for good: ${
      failure.code ? `${failure.code}: ` : ''
    }${failure.message}`,
    occurredAt: new Date().toISOString(),
    details: { callbackId: entry.id, event: entry.event, sequence: entry.sequence, code: failure.code },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
