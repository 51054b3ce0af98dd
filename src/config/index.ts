/**
 * Environment → typed configuration, one loader per process role (server, worker, dev), parsed
 * from the declarations in ./variables.ts (docs/configuration.md is generated from them).
 *
 * Only the entry points (src/main) call these loaders with `process.env`; every other module gets
 * the values it needs injected. A bad value stops the process with ONE line naming every bad
 * variable and what is wrong with it (`ConfigError`). Values that are credentials (secrets, the
 * database URL, the webhook URLs) are never echoed in those messages.
 *
 * An empty or blank value counts as unset (as `FOO=` in a compose file means), except for
 * ZEGO_CALLBACK_SECRET on the server, where it is reported as missing.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { LifecycleSettings } from '../../workflows/definitions';
import type { PriceTable, Tier } from '../zego/billing-types';
import type { LogLevel } from './fields';
import { DEFAULT_ZEGO_API_BASE_URL, shapeFor, type ConfigRole, type Values } from './variables';

export { LOG_LEVELS, MIN_ADMIN_TOKEN_LENGTH, parseDuration, type LogLevel } from './fields';
export { DEFAULT_ZEGO_API_BASE_URL, VARIABLES, variablesSet, type ConfigRole, type Role } from './variables';

/** The environment as the loaders see it (`process.env` fits). */
export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigProblem {
  variable: string;
  message: string;
}

/** A bad environment. `message` is one line: every problem, `VARIABLE: what is wrong`, `; `-joined. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map((p) => `${p.variable}: ${p.message}`).join('; '));
  }
}

/** Settings every role reads. */
export interface CommonConfig {
  role: ConfigRole;
  taskQueue: string;
  /** postgres:// or postgresql:// URL; undefined = embedded Postgres (worker) / in-memory nonces (server). */
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: LogLevel;
}

/** The lifecycle workflow's timing, read by every role (config always gives the optional ones). */
export type LifecycleConfig = Required<LifecycleSettings>;

export interface ServerConfig extends CommonConfig, LifecycleConfig {
  role: 'server';
  port: number;
  host: string;
  /** Accepted CallbackSecrets (rotation: any of them verifies); never empty. */
  callbackSecrets: string[];
  callbackMaxSkewMs: number;
  handoffTimeoutMs: number;
  /** On SIGTERM: how long /readyz says 503 before the listener closes (load balancers catch up). */
  shutdownDelayMs: number;
  /** ADMIN_TOKEN: bearer tokens of the admin surface (rotation: any of them); empty = admin off. */
  adminTokens: string[];
  /** ADMIN_PORT/ADMIN_HOST: a listener of its own for the admin surface; undefined = on PORT. */
  adminListener: { port: number; host: string } | undefined;
  /** TEMPORAL_UI_URL: the console links each lifecycle into this Temporal Web UI. */
  temporalUiUrl: string | undefined;
  /** CALLBACK_RETENTION: how long delivered callbacks stay in the callback log. */
  callbackRetentionMs: number;
  /** CALLBACK_BACKLOG_ALERT_AFTER: oldest pending inbox entry age that raises `callback_backlog`. */
  callbackBacklogAlertAfterMs: number;
  /** RELAY_CONCURRENCY: tasks the inbox relay of one replica delivers at once. */
  relayConcurrency: number;
  /** ALERT_WEBHOOK_URL: the server's own alerts (callback_rejected, callback_backlog) go here too. */
  alertWebhookUrl: string | undefined;
}

/** Credentials for ZEGO's server API (StopCloudTranscode of stale tasks); both or neither. */
export interface ZegoApiConfig {
  appId: string;
  serverSecret: string;
  baseUrl: string;
}

export interface BillingConfig {
  /** Full price table (defaults with BILLING_PRICES applied), CNY per 1000 minutes. */
  prices: PriceTable;
  unknownResolutionTier: Tier;
}

export interface WorkerConfig extends CommonConfig, LifecycleConfig {
  role: 'worker';
  alertWebhookUrl: string | undefined;
  /** The shipped follow-up POSTs a "task finished" event here when set. */
  taskFinishedWebhookUrl: string | undefined;
  /** host:port where the Temporal SDK's Prometheus exporter serves /metrics; unset = none. */
  workerMetricsAddress: string | undefined;
  /** The worker's workflow cache size (the SDK's maxCachedWorkflows). */
  maxCachedWorkflows: number;
  /** null when ZEGO_APP_ID / ZEGO_SERVER_SECRET are unset: stale tasks are then only alerted. */
  zegoApi: ZegoApiConfig | null;
  billing: BillingConfig;
}

export interface DevConfig extends Omit<ServerConfig, 'role'>, Omit<WorkerConfig, 'role'> {
  role: 'dev';
  /** The secret `dev` generated because ZEGO_CALLBACK_SECRET was unset (print it); null otherwise. */
  generatedCallbackSecret: string | null;
  /** The admin token `dev` generated because ADMIN_TOKEN was unset (print it); null otherwise. */
  generatedAdminToken: string | null;
  /** The embedded Temporal dev server's gRPC and UI ports. */
  temporalDevPort: number;
  temporalDevUiPort: number;
}

export type AnyConfig = ServerConfig | WorkerConfig | DevConfig;

// ---------------------------------------------------------------------------------------------

/** Parses the role's variables; every problem, the checks across variables included, in one error. */
function parse(role: ConfigRole, env: Env, extra: (v: Values) => ConfigProblem[]): Values {
  const shape = shapeFor(role);
  const result = z.object(shape).safeParse(env);
  const problems: ConfigProblem[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? 'environment');
      problems.push({ variable, message: issue.message });
    }
  } else {
    problems.push(...extra(result.data as Values));
  }
  if (problems.length > 0 || !result.success) {
    // Keep the declarations' order whatever order zod reported in.
    const order = Object.keys(shape);
    problems.sort((a, b) => order.indexOf(a.variable) - order.indexOf(b.variable));
    throw new ConfigError(problems);
  }
  return result.data as Values;
}

function zegoApiOf(v: Values): ZegoApiConfig | null {
  if (!v.ZEGO_APP_ID || !v.ZEGO_SERVER_SECRET) return null;
  return {
    appId: v.ZEGO_APP_ID,
    serverSecret: v.ZEGO_SERVER_SECRET,
    baseUrl: v.ZEGO_API_BASE_URL ?? DEFAULT_ZEGO_API_BASE_URL,
  };
}

function zegoApiProblems(v: Values): ConfigProblem[] {
  if (v.ZEGO_APP_ID && !v.ZEGO_SERVER_SECRET)
    return [{ variable: 'ZEGO_SERVER_SECRET', message: 'is required when ZEGO_APP_ID is set' }];
  if (!v.ZEGO_APP_ID && v.ZEGO_SERVER_SECRET)
    return [{ variable: 'ZEGO_APP_ID', message: 'is required when ZEGO_SERVER_SECRET is set' }];
  return [];
}

function skewProblems(v: Values): ConfigProblem[] {
  // Nonce bindings are kept for 2 × skew; ZEGO retries span ~62 s, so a tiny window rejects retries.
  return v.ZEGO_CALLBACK_MAX_SKEW < 1000
    ? [{ variable: 'ZEGO_CALLBACK_MAX_SKEW', message: `${v.ZEGO_CALLBACK_MAX_SKEW}ms is shorter than 1s` }]
    : [];
}

function adminProblems(v: Values): ConfigProblem[] {
  if (v.ADMIN_HOST !== undefined && v.ADMIN_PORT === undefined)
    return [{ variable: 'ADMIN_HOST', message: 'needs ADMIN_PORT (the admin listener is off without it)' }];
  if (v.ADMIN_PORT !== undefined && v.ADMIN_PORT !== 0 && v.ADMIN_PORT === v.PORT)
    return [{ variable: 'ADMIN_PORT', message: `must differ from PORT (${v.PORT})` }];
  return [];
}

function commonOf(v: Values) {
  return {
    taskQueue: v.TEMPORAL_TASK_QUEUE,
    databaseUrl: v.DATABASE_URL,
    dataDir: v.DATA_DIR,
    logLevel: v.LOG_LEVEL,
  };
}

function lifecycleOf(v: Values): LifecycleConfig {
  return {
    lingerMs: v.LIFECYCLE_LINGER,
    orphanGraceMs: v.ORPHAN_STOP_GRACE,
    maxTaskDurationMs: v.MAX_TASK_DURATION,
    continueAsNewAfterEvents: v.CONTINUE_AS_NEW_AFTER_EVENTS,
    staleStopGraceMs: v.STALE_STOP_GRACE,
    sequenceGapGraceMs: v.SEQUENCE_GAP_GRACE,
    staleStopHorizonMs: v.STALE_STOP_HORIZON,
  };
}

function workerOf(v: Values) {
  return {
    alertWebhookUrl: v.ALERT_WEBHOOK_URL,
    taskFinishedWebhookUrl: v.TASK_FINISHED_WEBHOOK_URL,
    workerMetricsAddress: v.WORKER_METRICS_ADDRESS,
    maxCachedWorkflows: v.WORKER_MAX_CACHED_WORKFLOWS,
    zegoApi: zegoApiOf(v),
    billing: { prices: v.BILLING_PRICES, unknownResolutionTier: v.BILLING_UNKNOWN_RESOLUTION_TIER },
  };
}

function serverOf(v: Values) {
  return {
    port: v.PORT,
    host: v.HOST,
    callbackSecrets: v.ZEGO_CALLBACK_SECRET,
    callbackMaxSkewMs: v.ZEGO_CALLBACK_MAX_SKEW,
    handoffTimeoutMs: v.HANDOFF_TIMEOUT,
    shutdownDelayMs: v.SHUTDOWN_DELAY,
    adminTokens: v.ADMIN_TOKEN,
    // A separate admin listener is private unless told otherwise.
    adminListener:
      v.ADMIN_PORT === undefined ? undefined : { port: v.ADMIN_PORT, host: v.ADMIN_HOST ?? '127.0.0.1' },
    temporalUiUrl: v.TEMPORAL_UI_URL?.replace(/\/+$/, ''),
    callbackRetentionMs: v.CALLBACK_RETENTION,
    callbackBacklogAlertAfterMs: v.CALLBACK_BACKLOG_ALERT_AFTER,
    relayConcurrency: v.RELAY_CONCURRENCY,
    alertWebhookUrl: v.ALERT_WEBHOOK_URL,
  };
}

/** `npm run server`: the HTTP server. ZEGO_CALLBACK_SECRET is required. */
export function loadServerConfig(env: Env): ServerConfig {
  const v = parse('server', env, (x) => [...skewProblems(x), ...adminProblems(x)]);
  return { role: 'server', ...commonOf(v), ...serverOf(v), ...lifecycleOf(v) };
}

/** `npm run worker`: the Temporal worker (lifecycle workflow and activities). */
export function loadWorkerConfig(env: Env): WorkerConfig {
  const v = parse('worker', env, zegoApiProblems);
  return { role: 'worker', ...commonOf(v), ...lifecycleOf(v), ...workerOf(v) };
}

/**
 * `npm run dev`: everything in one process. When ZEGO_CALLBACK_SECRET or ADMIN_TOKEN is unset a
 * random one is generated (`generatedCallbackSecret`, `generatedAdminToken`, for the entry point to
 * print).
 */
export function loadDevConfig(
  env: Env,
  opts: {
    generateSecret?: (dataDir: string) => string;
    generateAdminToken?: (dataDir: string) => string;
  } = {},
): DevConfig {
  const v = parse('dev', env, (x) => [...skewProblems(x), ...adminProblems(x), ...zegoApiProblems(x)]);
  const server = serverOf(v);
  let generatedCallbackSecret: string | null = null;
  if (server.callbackSecrets.length === 0) {
    generatedCallbackSecret = (opts.generateSecret ?? randomSecret)(v.DATA_DIR);
    server.callbackSecrets = [generatedCallbackSecret];
  }
  let generatedAdminToken: string | null = null;
  if (server.adminTokens.length === 0) {
    generatedAdminToken = (opts.generateAdminToken ?? randomSecret)(v.DATA_DIR);
    server.adminTokens = [generatedAdminToken];
  }
  return {
    role: 'dev',
    ...commonOf(v),
    ...server,
    ...lifecycleOf(v),
    ...workerOf(v),
    generatedCallbackSecret,
    generatedAdminToken,
    temporalDevPort: v.TEMPORAL_DEV_PORT,
    temporalDevUiPort: v.TEMPORAL_DEV_UI_PORT,
  };
}

function randomSecret(): string {
  return randomBytes(24).toString('base64url');
}

export function loadConfig(env: Env, role: 'server'): ServerConfig;
export function loadConfig(env: Env, role: 'worker'): WorkerConfig;
export function loadConfig(env: Env, role: 'dev'): DevConfig;
export function loadConfig(env: Env, role: ConfigRole): AnyConfig;
export function loadConfig(env: Env, role: ConfigRole): AnyConfig {
  if (role === 'server') return loadServerConfig(env);
  if (role === 'worker') return loadWorkerConfig(env);
  return loadDevConfig(env);
}

/** The lifecycle workflow's settings (workflow input, given by whoever starts a lifecycle). */
export function lifecycleSettings(config: LifecycleConfig): LifecycleSettings {
  return {
    lingerMs: config.lingerMs,
    orphanGraceMs: config.orphanGraceMs,
    maxTaskDurationMs: config.maxTaskDurationMs,
    continueAsNewAfterEvents: config.continueAsNewAfterEvents,
    staleStopGraceMs: config.staleStopGraceMs,
    sequenceGapGraceMs: config.sequenceGapGraceMs,
    staleStopHorizonMs: config.staleStopHorizonMs,
  };
}
