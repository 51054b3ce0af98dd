/**
 * Environment → typed configuration, one loader per process role (server, worker, dev).
 *
 * Only the entry points (src/main) call these loaders with `process.env`; every other module gets
 * the values it needs injected. A bad value stops the process with ONE line naming every bad
 * variable and what is wrong with it (`ConfigError`). Values that are credentials (secrets, the
 * database URL, the alert webhook URL) are never echoed in those messages.
 *
 * Temporal connection variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*, TEMPORAL_PROFILE) are deliberately NOT parsed here: src/temporal reads them
 * through @temporalio/envconfig so they keep exactly the meaning Temporal gives them.
 *
 * Variables (contract table, then this service's additions):
 *
 * | variable                        | roles              | default                  |
 * |---------------------------------|--------------------|--------------------------|
 * | PORT / HOST                     | server, dev        | 3000 / 0.0.0.0           |
 * | ZEGO_CALLBACK_SECRET            | server (required), dev (generated when unset) | — |
 * | ZEGO_CALLBACK_MAX_SKEW          | server, dev        | 5m                       |
 * | TEMPORAL_TASK_QUEUE             | all                | zego-transcoding         |
 * | DATABASE_URL                    | all                | unset (embedded / memory)|
 * | DATA_DIR                        | all                | ./.data                  |
 * | LIFECYCLE_LINGER                | all                | 5m                       |
 * | ORPHAN_STOP_GRACE               | all                | 10m                      |
 * | MAX_TASK_DURATION               | all                | 24h                      |
 * | ALERT_WEBHOOK_URL               | worker, dev        | unset                    |
 * | TASK_FINISHED_WEBHOOK_URL       | worker, dev        | unset                    |
 * | WORKER_METRICS_ADDRESS          | worker, dev        | unset (no exporter)      |
 * | WORKER_MAX_CACHED_WORKFLOWS     | worker, dev        | 300                      |
 * | SHUTDOWN_DELAY                  | server, dev        | 0s                       |
 * | STALE_STOP_GRACE                | all                | 2m                       |
 * | SEQUENCE_GAP_GRACE              | all                | 90s                      |
 * | ZEGO_APP_ID, ZEGO_SERVER_SECRET, ZEGO_API_BASE_URL | worker, dev | unset, unset, https://rtc-api.zego.im |
 *
 * Additions (not in the contract's table; documented in the README):
 *
 * - `HANDOFF_TIMEOUT` (server, dev; default `5s`): how long the HTTP server waits for Temporal to
 *   acknowledge a callback (signal-with-start) before answering 503 so that ZEGO retries. ZEGO
 *   publishes no callback timeout; keep this well under a few seconds' worth of ZEGO patience.
 * - `BILLING_PRICES` (worker, dev; default ZEGO's list prices): JSON object overriding some or all
 *   tiers of the price table, CNY per 1000 minutes, e.g. `{"hd": 30, "fhd": 60}`. Parsed by
 *   `parsePriceTable` (src/zego/billing.ts).
 * - `BILLING_UNKNOWN_RESOLUTION_TIER` (worker, dev; default `hd`): the tier billed for an output
 *   whose resolution the callbacks do not reveal (Width/Height absent or 0 = "same as input").
 * - `LOG_LEVEL` (all; default `info`): pino level (fatal, error, warn, info, debug, trace, silent).
 * - `CONTINUE_AS_NEW_AFTER_EVENTS` (all; default 2000, 100–50000): the lifecycle workflow continues
 *   as new once its history holds this many events (or earlier when Temporal suggests it).
 * - `SEQUENCE_GAP_GRACE` (all; default 90s): how long a stopped lifecycle waits for callbacks whose
 *   Sequence lies between its start's and its stop's (an update still being retried by ZEGO, whose
 *   retries span ~62 s) before its bill is finalized. Only a lifecycle with such a gap waits.
 * - `WORKER_MAX_CACHED_WORKFLOWS` (worker, dev; default 300, 2–100000): lifecycles the worker keeps
 *   in memory. Its memory grows with this, not with the number of running lifecycles: ~0.4 MiB per
 *   cached lifecycle (bench/RESULTS.md); an evicted one is replayed on its next callback. The SDK's
 *   own default (from the V8 heap limit, ~2,300 here) takes a worker past 1 GiB.
 *
 * The lifecycle settings are read by every role because whoever starts a lifecycle (the server's
 * signal-with-start, or the worker) passes them as workflow input.
 *
 * An empty or blank value counts as unset (as `FOO=` in a compose file means), except for
 * ZEGO_CALLBACK_SECRET on the server, where it is reported as missing.
 */
import { randomBytes } from 'node:crypto';
import ms from 'ms';
import { z } from 'zod';
import { DEFAULT_SEQUENCE_GAP_GRACE_MS, type LifecycleSettings } from '../workflows/definitions';
import { parsePriceTable, ZEGO_LIST_PRICES } from './zego/billing';
import { TIERS, type PriceTable, type Tier } from './zego/billing-types';

/** The environment as the loaders see it (`process.env` fits). */
export type Env = Readonly<Record<string, string | undefined>>;

export type ConfigRole = 'server' | 'worker' | 'dev';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_ZEGO_API_BASE_URL = 'https://rtc-api.zego.im';

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

/** The lifecycle workflow's timing (see `lifecycleSettings`); read by server, worker and dev. */
export interface LifecycleConfig {
  lingerMs: number;
  orphanStopGraceMs: number;
  maxTaskDurationMs: number;
  continueAsNewAfterEvents: number;
  /** After stopping a stale task through ZEGO's API, how long to wait for ZEGO's stop callback. */
  staleStopGraceMs: number;
  /** How long a stop waits for the callbacks missing between its start's Sequence and its own. */
  sequenceGapGraceMs: number;
}

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
}

export type AnyConfig = ServerConfig | WorkerConfig | DevConfig;

// ---------------------------------------------------------------------------------------------
// Field parsers. Each takes the raw variable (undefined when unset/blank) and reports problems
// through zod's context, so one pass collects every bad variable.

type Ctx = z.RefinementCtx;

const DURATION_HINT = 'use 500ms, 90s, 10m, 24h';
const MAX_SHOWN = 60;

/** Quotes a value for an error message, shortened so the message stays one readable line. */
function show(value: string): string {
  const text = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
  return JSON.stringify(text);
}

function blankToUndefined(value: unknown): unknown {
  return typeof value === 'string' && value.trim() === '' ? undefined : value;
}

function raw() {
  return z.preprocess(blankToUndefined, z.string().optional());
}

function fail(ctx: Ctx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER as never;
}

/** Parses an ms-style duration (`500ms`, `90s`, `10m`, `24h`; a bare number is milliseconds). */
export function parseDuration(value: string): number | undefined {
  let result: number | undefined;
  try {
    result = ms(value.trim() as ms.StringValue) as number | undefined;
  } catch {
    return undefined;
  }
  return typeof result === 'number' && Number.isFinite(result) ? result : undefined;
}

/** Longest delay a Node timer can wait (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function duration(fallback: string, maxMs = 10 * 365 * 24 * 3600 * 1000, zeroAllowed = false) {
  return raw().transform((value, ctx): number => {
    const text = value ?? fallback;
    const parsed = parseDuration(text);
    if (parsed === undefined) return fail(ctx, `${show(text)} is not a duration (${DURATION_HINT})`);
    const rounded = Math.round(parsed);
    if (rounded < 0 || (rounded === 0 && !zeroAllowed)) {
      return fail(ctx, `${show(text)} must be a positive duration (${DURATION_HINT})`);
    }
    if (rounded > maxMs) return fail(ctx, `${show(text)} is too long (at most ${ms(maxMs, { long: true })})`);
    return rounded;
  });
}

function integer(fallback: number, min: number, max: number, what: string) {
  return raw().transform((value, ctx): number => {
    if (value === undefined) return fallback;
    const text = value.trim();
    if (!/^\d+$/.test(text)) return fail(ctx, `${show(value)} is not ${what}`);
    const n = Number(text);
    if (n < min || n > max) return fail(ctx, `${show(value)} is out of range (${min}–${max})`);
    return n;
  });
}

function text(fallback: string) {
  return raw().transform((value) => (value ?? fallback).trim());
}

/** An absolute URL with one of the given protocols. The value is echoed only when `echo`. */
function url(protocols: readonly string[], echo: boolean, required = false) {
  const expected = protocols.map((p) => `${p}//`).join(' or ');
  return raw().transform((value, ctx): string | undefined => {
    if (value === undefined) return required ? fail(ctx, 'is required') : undefined;
    const shown = echo ? `${show(value)} ` : '';
    let parsed: URL;
    try {
      parsed = new URL(value.trim());
    } catch {
      return fail(ctx, `${shown}is not a URL (expected ${expected}…)`);
    }
    if (!protocols.includes(parsed.protocol))
      return fail(ctx, `${shown}must start with ${expected} (got ${parsed.protocol}//)`);
    if (!parsed.hostname) return fail(ctx, `${shown}has no host`);
    return value.trim();
  });
}

/** `host:port` of a listening socket (e.g. `0.0.0.0:9464`); optional. */
function hostPort() {
  return raw().transform((value, ctx): string | undefined => {
    if (value === undefined) return undefined;
    const m = /^(.+):(\d{1,5})$/.exec(value.trim());
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      return fail(ctx, `${show(value)} is not host:port (e.g. 0.0.0.0:9464)`);
    return value.trim();
  });
}

function secretList(required: boolean) {
  return raw().transform((value, ctx): string[] => {
    if (value === undefined) {
      return required ? fail(ctx, 'is required (a comma-separated list of CallbackSecrets)') : [];
    }
    const entries = value.split(',').map((s) => s.trim());
    const empty = entries.findIndex((s) => s === '');
    if (empty >= 0) {
      return fail(
        ctx,
        `entry ${empty + 1} of ${entries.length} is empty (comma-separated list of secrets, no empty entries)`,
      );
    }
    return [...new Set(entries)];
  });
}

/** Shortest ADMIN_TOKEN accepted: a guessable token makes the guard pointless. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Comma-separated bearer tokens; never echoed. Visible ASCII only (they travel in a header). */
function tokenList() {
  return raw().transform((value, ctx): string[] => {
    if (value === undefined) return [];
    const entries = value.split(',').map((s) => s.trim());
    for (const [i, entry] of entries.entries()) {
      const which = `entry ${i + 1} of ${entries.length}`;
      if (entry === '') return fail(ctx, `${which} is empty (comma-separated tokens, no empty entries)`);
      if (!/^[\x21-\x7e]+$/.test(entry) || entry.includes(','))
        return fail(ctx, `${which} has characters a bearer token cannot carry (use visible ASCII)`);
      if (entry.length < MIN_ADMIN_TOKEN_LENGTH)
        return fail(ctx, `${which} is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters`);
    }
    return [...new Set(entries)];
  });
}

const logLevel = raw().transform((value, ctx): LogLevel => {
  const level = (value ?? 'info').trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  return fail(ctx, `${show(value ?? '')} is not a log level (${LOG_LEVELS.join(', ')})`);
});

const taskQueue = raw().transform((value, ctx): string => {
  const queue = (value ?? 'zego-transcoding').trim();
  if (queue.length > 200) return fail(ctx, 'is longer than 200 characters');
  return queue;
});

const tier = raw().transform((value, ctx): Tier => {
  const t = (value ?? 'hd').trim().toLowerCase();
  if ((TIERS as readonly string[]).includes(t)) return t as Tier;
  return fail(ctx, `${show(value ?? '')} is not a tier (${TIERS.join(', ')})`);
});

const prices = raw().transform((value, ctx): PriceTable => {
  if (value === undefined) return { ...ZEGO_LIST_PRICES };
  try {
    return parsePriceTable(value);
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
    return fail(ctx, `${reason} (a partial override such as {"hd": 30}, CNY per 1000 minutes)`);
  }
});

const zegoAppId = raw().transform((value, ctx): string | undefined => {
  if (value === undefined) return undefined;
  const id = value.trim();
  if (!/^\d{1,10}$/.test(id) || Number(id) > 0xffffffff || Number(id) === 0)
    return fail(ctx, `${show(value)} is not a ZEGO AppId (a positive 32-bit decimal number)`);
  return id;
});

const zegoServerSecret = raw().transform((value) => value?.trim());

// ---------------------------------------------------------------------------------------------
// Per-role schemas. Keys are the variable names, in the contract table's order, so zod's issue
// paths name the variable and problems come out in a predictable order.

const common = {
  TEMPORAL_TASK_QUEUE: taskQueue,
  DATABASE_URL: url(['postgres:', 'postgresql:'], false),
  DATA_DIR: text('./.data'),
  LOG_LEVEL: logLevel,
};

const serverFields = (secretRequired: boolean) => ({
  PORT: integer(3000, 0, 65535, 'a port number (0–65535)'),
  HOST: text('0.0.0.0'),
  ZEGO_CALLBACK_SECRET: secretList(secretRequired),
  ZEGO_CALLBACK_MAX_SKEW: duration('5m'),
  HANDOFF_TIMEOUT: duration('5s', MAX_TIMER_MS),
  SHUTDOWN_DELAY: duration('0s', MAX_TIMER_MS, true),
  ADMIN_TOKEN: tokenList(),
  ADMIN_PORT: raw().transform((value, ctx): number | undefined => {
    if (value === undefined) return undefined;
    const text = value.trim();
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(n >= 0 && n <= 65535)) return fail(ctx, `${show(value)} is not a port number (0–65535)`);
    return n;
  }),
  ADMIN_HOST: raw().transform((value) => value?.trim()),
  TEMPORAL_UI_URL: url(['http:', 'https:'], true),
  CALLBACK_RETENTION: duration('7d'),
  CALLBACK_BACKLOG_ALERT_AFTER: duration('5m'),
  RELAY_CONCURRENCY: integer(32, 1, 1000, 'a whole number of tasks'),
  ALERT_WEBHOOK_URL: url(['http:', 'https:'], false),
});

/**
 * The lifecycle workflow's settings. Both roles read them: the server starts lifecycles
 * (signal-with-start carries them as workflow input) and the worker continues them.
 */
const lifecycleFields = {
  LIFECYCLE_LINGER: duration('5m'),
  ORPHAN_STOP_GRACE: duration('10m'),
  MAX_TASK_DURATION: duration('24h'),
  CONTINUE_AS_NEW_AFTER_EVENTS: integer(2000, 100, 50_000, 'a whole number of history events'),
  STALE_STOP_GRACE: duration('2m'),
  SEQUENCE_GAP_GRACE: duration(`${DEFAULT_SEQUENCE_GAP_GRACE_MS / 1000}s`, MAX_TIMER_MS, true),
};

const workerFields = {
  ALERT_WEBHOOK_URL: url(['http:', 'https:'], false),
  TASK_FINISHED_WEBHOOK_URL: url(['http:', 'https:'], false),
  WORKER_METRICS_ADDRESS: hostPort(),
  WORKER_MAX_CACHED_WORKFLOWS: integer(300, 2, 100_000, 'a whole number of workflows'),
  ZEGO_APP_ID: zegoAppId,
  ZEGO_SERVER_SECRET: zegoServerSecret,
  ZEGO_API_BASE_URL: url(['http:', 'https:'], true),
  BILLING_PRICES: prices,
  BILLING_UNKNOWN_RESOLUTION_TIER: tier,
};

function parse<T extends z.ZodRawShape>(
  shape: T,
  env: Env,
  extra?: (v: z.output<z.ZodObject<T>>) => ConfigProblem[],
) {
  const result = z.object(shape).safeParse(env);
  const problems: ConfigProblem[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? 'environment');
      problems.push({ variable, message: issue.message });
    }
  } else if (extra) {
    problems.push(...extra(result.data));
  }
  if (problems.length > 0 || !result.success) {
    // Keep the schema's (table) order whatever order zod reported in.
    const order = Object.keys(shape);
    problems.sort((a, b) => order.indexOf(a.variable) - order.indexOf(b.variable));
    throw new ConfigError(problems);
  }
  return result.data;
}

function zegoApiOf(v: { ZEGO_APP_ID?: string; ZEGO_SERVER_SECRET?: string; ZEGO_API_BASE_URL?: string }) {
  if (!v.ZEGO_APP_ID || !v.ZEGO_SERVER_SECRET) return null;
  return {
    appId: v.ZEGO_APP_ID,
    serverSecret: v.ZEGO_SERVER_SECRET,
    baseUrl: v.ZEGO_API_BASE_URL ?? DEFAULT_ZEGO_API_BASE_URL,
  };
}

function zegoApiProblems(v: { ZEGO_APP_ID?: string; ZEGO_SERVER_SECRET?: string }): ConfigProblem[] {
  if (v.ZEGO_APP_ID && !v.ZEGO_SERVER_SECRET)
    return [{ variable: 'ZEGO_SERVER_SECRET', message: 'is required when ZEGO_APP_ID is set' }];
  if (!v.ZEGO_APP_ID && v.ZEGO_SERVER_SECRET)
    return [{ variable: 'ZEGO_APP_ID', message: 'is required when ZEGO_SERVER_SECRET is set' }];
  return [];
}

function skewProblems(v: { ZEGO_CALLBACK_MAX_SKEW: number }): ConfigProblem[] {
  // Nonce bindings are kept for 2 × skew; ZEGO retries span ~62 s, so a tiny window rejects retries.
  return v.ZEGO_CALLBACK_MAX_SKEW < 1000
    ? [{ variable: 'ZEGO_CALLBACK_MAX_SKEW', message: `${v.ZEGO_CALLBACK_MAX_SKEW}ms is shorter than 1s` }]
    : [];
}

function commonOf(v: z.output<z.ZodObject<typeof common>>) {
  return {
    taskQueue: v.TEMPORAL_TASK_QUEUE,
    databaseUrl: v.DATABASE_URL,
    dataDir: v.DATA_DIR,
    logLevel: v.LOG_LEVEL,
  };
}

function lifecycleOf(v: z.output<z.ZodObject<typeof lifecycleFields>>): LifecycleConfig {
  return {
    lingerMs: v.LIFECYCLE_LINGER,
    orphanStopGraceMs: v.ORPHAN_STOP_GRACE,
    maxTaskDurationMs: v.MAX_TASK_DURATION,
    continueAsNewAfterEvents: v.CONTINUE_AS_NEW_AFTER_EVENTS,
    staleStopGraceMs: v.STALE_STOP_GRACE,
    sequenceGapGraceMs: v.SEQUENCE_GAP_GRACE,
  };
}

function workerOf(v: z.output<z.ZodObject<typeof workerFields>>) {
  return {
    alertWebhookUrl: v.ALERT_WEBHOOK_URL,
    taskFinishedWebhookUrl: v.TASK_FINISHED_WEBHOOK_URL,
    workerMetricsAddress: v.WORKER_METRICS_ADDRESS,
    maxCachedWorkflows: v.WORKER_MAX_CACHED_WORKFLOWS,
    zegoApi: zegoApiOf(v),
    billing: { prices: v.BILLING_PRICES, unknownResolutionTier: v.BILLING_UNKNOWN_RESOLUTION_TIER },
  };
}

function serverOf(v: z.output<z.ZodObject<ReturnType<typeof serverFields>>>) {
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

function adminProblems(v: { ADMIN_PORT?: number; ADMIN_HOST?: string; PORT: number }): ConfigProblem[] {
  if (v.ADMIN_HOST !== undefined && v.ADMIN_PORT === undefined)
    return [{ variable: 'ADMIN_HOST', message: 'needs ADMIN_PORT (the admin listener is off without it)' }];
  if (v.ADMIN_PORT !== undefined && v.ADMIN_PORT !== 0 && v.ADMIN_PORT === v.PORT)
    return [{ variable: 'ADMIN_PORT', message: `must differ from PORT (${v.PORT})` }];
  return [];
}

/** `npm run server`: the HTTP server. ZEGO_CALLBACK_SECRET is required. */
export function loadServerConfig(env: Env): ServerConfig {
  const v = parse({ ...serverFields(true), ...common, ...lifecycleFields }, env, (x) => [
    ...skewProblems(x),
    ...adminProblems(x),
  ]);
  return { role: 'server', ...commonOf(v), ...serverOf(v), ...lifecycleOf(v) };
}

/** `npm run worker`: the Temporal worker (lifecycle workflow and activities). */
export function loadWorkerConfig(env: Env): WorkerConfig {
  const v = parse({ ...common, ...lifecycleFields, ...workerFields }, env, zegoApiProblems);
  return { role: 'worker', ...commonOf(v), ...lifecycleOf(v), ...workerOf(v) };
}

/**
 * `npm run dev`: everything in one process. When ZEGO_CALLBACK_SECRET or ADMIN_TOKEN is unset a
 * random one is generated (`generatedCallbackSecret`, `generatedAdminToken`, for the entry point to
 * print).
 */
export function loadDevConfig(
  env: Env,
  opts: { generateSecret?: () => string; generateAdminToken?: () => string } = {},
): DevConfig {
  const v = parse({ ...serverFields(false), ...common, ...lifecycleFields, ...workerFields }, env, (x) => [
    ...skewProblems(x),
    ...adminProblems(x),
    ...zegoApiProblems(x),
  ]);
  const server = serverOf(v);
  let generatedCallbackSecret: string | null = null;
  if (server.callbackSecrets.length === 0) {
    generatedCallbackSecret = (opts.generateSecret ?? (() => randomBytes(24).toString('base64url')))();
    server.callbackSecrets = [generatedCallbackSecret];
  }
  let generatedAdminToken: string | null = null;
  if (server.adminTokens.length === 0) {
    generatedAdminToken = (opts.generateAdminToken ?? (() => randomBytes(24).toString('base64url')))();
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
  };
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
    orphanGraceMs: config.orphanStopGraceMs,
    maxTaskDurationMs: config.maxTaskDurationMs,
    continueAsNewAfterEvents: config.continueAsNewAfterEvents,
    staleStopGraceMs: config.staleStopGraceMs,
    sequenceGapGraceMs: config.sequenceGapGraceMs,
  };
}
