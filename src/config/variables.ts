/**
 * Every environment variable of the service, declared once: who reads it, its parser and default,
 * and a one-line doc. The loaders (src/config/index.ts) parse from these, `npm run dev` lists them
 * and `npm run docs:config` writes docs/configuration.md from them.
 *
 * Keys are in the order problems are reported in (server's, every role's, the lifecycle's, the
 * worker's), so the message of a bad environment comes out in a predictable order.
 */
import type { z } from 'zod';
import { DEFAULT_SEQUENCE_GAP_GRACE_MS, DEFAULT_STALE_STOP_HORIZON_MS } from '../../workflows/definitions';
import {
  duration,
  hostPort,
  integer,
  logLevel,
  MAX_TIMER_MS,
  optionalPort,
  optionalText,
  prices,
  secretList,
  taskQueue,
  text,
  tier,
  tokenList,
  url,
  zegoAppId,
} from './fields';

/** The process roles with a loader. */
export type ConfigRole = 'server' | 'worker' | 'dev';
/** Who reads a variable: a loader's role, or the operator CLI and simulator (`cli`). */
export type Role = ConfigRole | 'cli';

export interface Declaration {
  roles: readonly Role[];
  /**
   * The loaders' parser (a function when it depends on the role). Absent: read by `readBy`
   * itself, because it belongs to a tool or library with its own meaning of it.
   */
  schema?: z.ZodType | ((role: ConfigRole) => z.ZodType);
  default: string;
  doc: string;
  readBy?: string;
}

export const DEFAULT_ZEGO_API_BASE_URL = 'https://rtc-api.zego.im';

const HTTP = ['http:', 'https:'];
const ALL = ['server', 'worker', 'dev'] as const;
const SERVER = ['server', 'dev'] as const;
const WORKER = ['worker', 'dev'] as const;

export const VARIABLES = {
  // The HTTP server's.
  PORT: {
    roles: SERVER,
    ...integer(3000, 0, 65535, 'a port number (0–65535)'),
    doc: 'The HTTP server: the callback, the probes and (without `ADMIN_PORT`) the admin surface.',
  },
  HOST: { roles: SERVER, ...text('0.0.0.0'), doc: 'The address the HTTP server listens on.' },
  ZEGO_CALLBACK_SECRET: {
    roles: [...SERVER, 'cli'],
    schema: (role: ConfigRole) => secretList(role === 'server'),
    default: 'required by `server` (`dev` generates one, kept in `DATA_DIR/callback-secret`)',
    doc: "ZEGO's CallbackSecret; a comma-separated list accepts any of them (rotation). Never echoed.",
  },
  ZEGO_CALLBACK_MAX_SKEW: {
    roles: SERVER,
    ...duration('5m'),
    doc: "Accepted distance between a callback's `Timestamp` and now, both ways (≥ 1e12 is read as milliseconds); at least 1s.",
  },
  HANDOFF_TIMEOUT: {
    roles: SERVER,
    ...duration('5s', { maxMs: MAX_TIMER_MS }),
    doc: "The longest a callback request may take end to end (recording it, or without a database Temporal's acknowledgement) before the answer is 503 and ZEGO retries.",
  },
  SHUTDOWN_DELAY: {
    roles: SERVER,
    ...duration('0s', { maxMs: MAX_TIMER_MS, zeroAllowed: true }),
    doc: 'On SIGTERM: how long `/readyz` answers 503 before the listener closes, so load balancers catch up.',
  },
  ADMIN_TOKEN: {
    roles: [...SERVER, 'cli'],
    ...tokenList(),
    default: 'unset (`dev` generates one, kept in `DATA_DIR/admin-token`)',
    doc: "Bearer token(s) for everything but the callback and the probes, and the console's sign-in; comma-separated for rotation, at least 16 characters; unset: those routes answer 404.",
  },
  ADMIN_PORT: {
    roles: SERVER,
    ...optionalPort(),
    doc: 'A listener of its own for the admin surface (JSON API, console, metrics); `PORT` then serves only the callback and the probes.',
  },
  ADMIN_HOST: {
    roles: SERVER,
    ...optionalText(),
    default: '`127.0.0.1`',
    doc: "The admin listener's address (needs `ADMIN_PORT`).",
  },
  TEMPORAL_UI_URL: {
    roles: SERVER,
    ...url(HTTP, true),
    default: "unset (`dev`: its own dev server's UI)",
    doc: 'The console links each workflow into this Temporal Web UI.',
  },
  CALLBACK_RETENTION: {
    roles: SERVER,
    ...duration('7d'),
    doc: 'How long delivered callbacks stay in the callback log.',
  },
  CALLBACK_BACKLOG_ALERT_AFTER: {
    roles: SERVER,
    ...duration('5m'),
    doc: 'The age of the oldest pending inbox entry that raises `callback_backlog`.',
  },
  RELAY_CONCURRENCY: {
    roles: SERVER,
    ...integer(32, 1, 1000, 'a whole number of tasks'),
    doc: "Tasks one server replica's inbox relay delivers to Temporal at once.",
  },
  ALERT_WEBHOOK_URL: {
    roles: ALL,
    ...url(HTTP, false),
    doc: "Where alerts are POSTed as JSON (besides the log and the database): the worker's, and the server's own (`callback_backlog`, `callback_rejected`). Never echoed.",
  },

  // Every role's.
  TEMPORAL_TASK_QUEUE: { roles: ALL, ...taskQueue('zego-transcoding'), doc: 'The Temporal task queue.' },
  DATABASE_URL: {
    roles: ALL,
    ...url(['postgres:', 'postgresql:'], false),
    doc: 'PostgreSQL for the callback inbox, billing ledger, alert log, active-task registry and nonce bindings. Unset: `npm run dev` keeps them in an embedded PostgreSQL (PGlite) under `DATA_DIR`; a lone `npm run server` hands callbacks to Temporal directly (one replica). Never echoed.',
  },
  DATA_DIR: {
    roles: ALL,
    ...text('./.data'),
    doc: 'Embedded data (PGlite, the dev server, generated secrets).',
  },
  LOG_LEVEL: {
    roles: ALL,
    ...logLevel('info'),
    doc: 'The pino level: fatal, error, warn, info, debug, trace or silent.',
  },

  // The lifecycle workflow's: every role reads them, because whoever starts a lifecycle (the
  // server's signal-with-start, or the worker) passes them as workflow input.
  LIFECYCLE_LINGER: {
    roles: ALL,
    ...duration('5m'),
    doc: 'How long a finished lifecycle keeps absorbing late or repeated callbacks before it closes.',
  },
  ORPHAN_STOP_GRACE: {
    roles: ALL,
    ...duration('10m'),
    doc: 'How long a stop waits for its missing start before it is an orphan.',
  },
  MAX_TASK_DURATION: {
    roles: ALL,
    ...duration('24h'),
    doc: 'A task running longer without a stop is declared stale.',
  },
  CONTINUE_AS_NEW_AFTER_EVENTS: {
    roles: ALL,
    ...integer(2000, 100, 50_000, 'a whole number of history events'),
    doc: 'History length at which a lifecycle continues as new (or earlier when Temporal suggests it); 100–50000.',
  },
  STALE_STOP_GRACE: {
    roles: ALL,
    ...duration('2m'),
    doc: "After stopping a stale task through ZEGO's API, how long to wait for ZEGO's stop callback before alerting `stale_task`.",
  },
  SEQUENCE_GAP_GRACE: {
    roles: ALL,
    ...duration(`${DEFAULT_SEQUENCE_GAP_GRACE_MS / 1000}s`, { maxMs: MAX_TIMER_MS, zeroAllowed: true }),
    doc: "How long a stop waits for a missing `Sequence` between its start's and its own (an update ZEGO is still retrying; its retries span ~62 s) before the bill is decided; `0s` turns the wait off.",
  },
  STALE_STOP_HORIZON: {
    roles: ALL,
    // A Temporal timer, not a Node one: no 24.8-day limit.
    ...duration(`${DEFAULT_STALE_STOP_HORIZON_MS / 86_400_000}d`, { zeroAllowed: true }),
    doc: "How long a stale lifecycle stays open for its task's own stop, which then ends its bill (the ledger row is amended once); `0s`: it closes after the linger and a later stop is an orphan. See docs/lifecycle.md.",
  },

  // The worker's.
  TASK_FINISHED_WEBHOOK_URL: {
    roles: WORKER,
    ...url(HTTP, false),
    doc: 'The shipped follow-up POSTs a `task.finished` event here (docs/extending.md). Never echoed.',
  },
  WORKER_METRICS_ADDRESS: {
    roles: WORKER,
    ...hostPort(),
    default: 'unset (no exporter)',
    doc: "`host:port` (e.g. `0.0.0.0:9464`) where the Temporal SDK's Prometheus exporter serves `/metrics`.",
  },
  WORKER_MAX_CACHED_WORKFLOWS: {
    roles: WORKER,
    ...integer(300, 2, 100_000, 'a whole number of workflows'),
    doc: "Lifecycles a worker keeps in memory; its memory grows with this (~0.4 MiB each, bench/RESULTS.md), not with the number of running lifecycles; an evicted one is replayed on its next callback. The SDK's own default (~2,300 here) takes a worker past 1 GiB.",
  },
  ZEGO_APP_ID: {
    roles: [...WORKER, 'cli'],
    ...zegoAppId(),
    doc: "ZEGO's server API, to stop stale tasks (`StopCloudTranscode`): the AppId; set with `ZEGO_SERVER_SECRET` or not at all. Unset: stale tasks are only alerted.",
  },
  ZEGO_SERVER_SECRET: {
    roles: [...WORKER, 'cli'],
    ...optionalText(),
    doc: "ZEGO's server API: the ServerSecret; set with `ZEGO_APP_ID` or not at all. Never echoed.",
  },
  ZEGO_API_BASE_URL: {
    roles: [...WORKER, 'cli'],
    ...url(HTTP, true),
    default: `\`${DEFAULT_ZEGO_API_BASE_URL}\``,
    doc: "ZEGO's server API: its base URL (e.g. a regional host).",
  },
  BILLING_PRICES: {
    roles: WORKER,
    ...prices(),
    doc: 'JSON override of some or all tiers of the price table in CNY per 1000 minutes, e.g. `{"hd": 30}`; tiers `audio`, `sd`, `hd`, `fhd`, `uhd`.',
  },
  BILLING_UNKNOWN_RESOLUTION_TIER: {
    roles: WORKER,
    ...tier('hd'),
    doc: 'The tier billed for an output whose resolution the callbacks do not reveal (Width/Height absent or 0, "same as input").',
  },

  // Read where they are used.
  TEMPORAL_ADDRESS: {
    roles: ALL,
    default: '`localhost:7233`',
    doc: 'The Temporal frontend (host:port).',
    readBy: '@temporalio/envconfig',
  },
  TEMPORAL_NAMESPACE: {
    roles: ALL,
    default: '`default`',
    doc: 'The Temporal namespace.',
    readBy: '@temporalio/envconfig',
  },
  TEMPORAL_API_KEY: {
    roles: ALL,
    default: 'unset',
    doc: 'An API key for Temporal Cloud (turns TLS on).',
    readBy: '@temporalio/envconfig',
  },
  'TEMPORAL_TLS_*': {
    roles: ALL,
    default: 'unset',
    doc: 'TLS to Temporal: `TEMPORAL_TLS_CLIENT_CERT_PATH`, `TEMPORAL_TLS_CLIENT_KEY_PATH`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH` and the others envconfig knows.',
    readBy: '@temporalio/envconfig',
  },
  TEMPORAL_PROFILE: {
    roles: ALL,
    default: 'unset',
    doc: 'A profile of `temporal.toml` to take the connection from (docs/operations.md).',
    readBy: '@temporalio/envconfig',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    roles: ALL,
    default: 'unset (tracing off)',
    doc: 'Turns OpenTelemetry tracing on (OTLP over HTTP); the other `OTEL_*` variables are in docs/operations.md#tracing.',
    readBy: 'src/telemetry.ts',
  },
  TEMPORAL_DEV_PORT: {
    roles: ['dev'],
    ...integer(7233, 1, 65535, 'a TCP port (1–65535)'),
    doc: "The embedded Temporal dev server's gRPC port.",
  },
  TEMPORAL_DEV_UI_PORT: {
    roles: ['dev'],
    ...integer(8233, 1, 65535, 'a TCP port (1–65535)'),
    doc: "The embedded Temporal dev server's UI port.",
  },
  TEMPORAL_CLI_PATH: {
    roles: ['dev'],
    default: 'unset',
    doc: 'A Temporal CLI to use instead of finding or building one (`npm run temporal:cli`; the tests too).',
    readBy: 'src/temporal/cli-locator.ts',
  },
  WORKFLOW_BUNDLE_PATH: {
    roles: ['worker'],
    default: 'unset',
    doc: 'A prebuilt workflow bundle (else `dist/` beside the compiled worker, or compiled from source at start).',
    readBy: 'src/main/worker.ts',
  },
  ZEGO_SERVICE_URL: {
    roles: ['cli'],
    default: '`http://127.0.0.1:3000`',
    doc: 'The service the operator CLI talks to (`--url` wins).',
    readBy: 'src/cli/common.ts',
  },
} satisfies Record<string, Declaration>;

export type VariableName = keyof typeof VARIABLES;

type Parsed<D> = D extends { schema: (role: ConfigRole) => z.ZodType<infer T> }
  ? T
  : D extends { schema: z.ZodType<infer T> }
    ? T
    : never;

/** Every parsed variable's value (each role's loader fills only its own). */
export type Values = {
  [K in VariableName as [Parsed<(typeof VARIABLES)[K]>] extends [never] ? never : K]: Parsed<
    (typeof VARIABLES)[K]
  >;
};

/** The zod shape a role's loader parses: its variables, in declaration order. */
export function shapeFor(role: ConfigRole): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, d] of Object.entries(VARIABLES) as [string, Declaration][]) {
    if (!d.schema || !d.roles.includes(role)) continue;
    shape[name] = typeof d.schema === 'function' ? d.schema(role) : d.schema;
  }
  return shape;
}

/** The declared variables a role reads that `env` sets (names only: some are credentials). */
export function variablesSet(env: Readonly<Record<string, string | undefined>>, role: Role): string[] {
  return (Object.entries(VARIABLES) as [string, Declaration][])
    .filter(([name, d]) => d.roles.includes(role) && (env[name]?.trim() ?? '') !== '')
    .map(([name]) => name);
}
