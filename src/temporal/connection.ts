/**
 * Where Temporal is and how to talk to it, read through Temporal's own environment configuration
 * (`@temporalio/envconfig`): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*,
 * TEMPORAL_GRPC_META_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE and the temporal.toml they point at,
 * with the meaning Temporal gives them. Defaults: `localhost:7233`, namespace `default`.
 */
import { Connection, type Metadata } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { normalizeGrpcEndpointAddress } from '@temporalio/common/lib/internal-non-workflow';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnection } from '@temporalio/worker';

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** Options both `Connection` (client) and `NativeConnection` (worker) accept. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Metadata;
}

export interface TemporalConnectConfig {
  connectionOptions: TemporalConnectionOptions;
  namespace: string;
}

/** Thrown for a configuration that cannot work; the message names the variable at fault. */
export class TemporalConfigError extends Error {
  override name = 'TemporalConfigError';
}

const BOOLEAN_VARS = ['TEMPORAL_TLS', 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION'];
const TLS_PATH_VARS = [
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
];

/**
 * Reads the Temporal connection settings from `env` (and the temporal.toml profile it selects).
 * Empty variables count as unset.
 */
export function temporalConnectConfig(env: NodeJS.ProcessEnv = process.env): TemporalConnectConfig {
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') vars[key] = value;
  }
  for (const name of BOOLEAN_VARS) {
    const value = vars[name];
    if (value !== undefined && !['1', '0', 'true', 'false'].includes(value.toLowerCase())) {
      throw new TemporalConfigError(`${name}=${value} is not a boolean; use true or false`);
    }
    // envconfig only recognises lower-case true/1.
    if (value !== undefined) vars[name] = value.toLowerCase();
  }

  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: vars });
  } catch (err) {
    throw new TemporalConfigError(describeLoadError(err, vars));
  }

  const options = loaded.connectionOptions;
  const rawAddress = options.address ?? DEFAULT_TEMPORAL_ADDRESS;
  let address: string;
  try {
    address = normalizeGrpcEndpointAddress(rawAddress, 7233);
  } catch {
    throw new TemporalConfigError(
      `${vars.TEMPORAL_ADDRESS !== undefined ? 'TEMPORAL_ADDRESS' : `address in ${configFileLabel(vars)}`}=${rawAddress} ` +
        `is not a Temporal gRPC address; expected host:port (e.g. ${DEFAULT_TEMPORAL_ADDRESS}), without a scheme`,
    );
  }
  const namespace = loaded.namespace ?? DEFAULT_TEMPORAL_NAMESPACE;

  const connectionOptions: TemporalConnectionOptions = { address };
  if (options.tls !== undefined && options.tls !== null) connectionOptions.tls = options.tls;
  if (options.apiKey !== undefined) connectionOptions.apiKey = options.apiKey;
  if (options.metadata !== undefined && Object.keys(options.metadata).length > 0) {
    connectionOptions.metadata = { ...options.metadata };
  }
  return { connectionOptions, namespace };
}

/** A client connection, checked at once: fails when Temporal is not reachable within `connectTimeoutMs`. */
export async function connectClient(
  cfg: TemporalConnectConfig = temporalConnectConfig(),
  opts: { connectTimeoutMs?: number } = {},
): Promise<Connection> {
  try {
    return await Connection.connect({
      ...cfg.connectionOptions,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
    });
  } catch (err) {
    throw new Error(
      `cannot connect to Temporal at ${cfg.connectionOptions.address} (TEMPORAL_ADDRESS): ${messageOf(err)}`,
    );
  }
}

/**
 * A client connection that connects on first use and reconnects by itself: a process holding it
 * starts (and stays up) while Temporal is down; calls fail until it is back.
 */
export function connectLazily(cfg: TemporalConnectConfig = temporalConnectConfig()): Connection {
  return Connection.lazy({ ...cfg.connectionOptions });
}

/** The worker's connection (native). `@temporalio/worker` is loaded only when this is called. */
export async function connectWorker(
  cfg: TemporalConnectConfig = temporalConnectConfig(),
): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  try {
    return await NativeConnection.connect({ ...cfg.connectionOptions });
  } catch (err) {
    throw new Error(
      `cannot connect to Temporal at ${cfg.connectionOptions.address} (TEMPORAL_ADDRESS): ${messageOf(err)}`,
    );
  }
}

function describeLoadError(err: unknown, vars: Record<string, string>): string {
  const message = messageOf(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const errPath = (err as NodeJS.ErrnoException | undefined)?.path;
  if (/^Profile '.*' not found/.test(message)) {
    return `TEMPORAL_PROFILE=${vars.TEMPORAL_PROFILE}: no such profile in ${configFileLabel(vars)}`;
  }
  if (code !== undefined && errPath !== undefined) {
    const tlsVar = TLS_PATH_VARS.find((name) => vars[name] === errPath);
    if (tlsVar) return `${tlsVar}=${errPath} cannot be read: ${code}`;
    if (vars.TEMPORAL_CONFIG_FILE === errPath)
      return `TEMPORAL_CONFIG_FILE=${errPath} cannot be read: ${code}`;
    return `${errPath} (named in ${configFileLabel(vars)}) cannot be read: ${code}`;
  }
  return `${configFileLabel(vars)}: ${message}`;
}

function configFileLabel(vars: Record<string, string>): string {
  return vars.TEMPORAL_CONFIG_FILE !== undefined
    ? `TEMPORAL_CONFIG_FILE=${vars.TEMPORAL_CONFIG_FILE}`
    : 'the temporal.toml config file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml)';
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
