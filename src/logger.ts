/**
 * pino logger factory. Signatures, secrets and credentials are redacted wherever they appear in
 * the usual places (top level, one level down, request headers), so a logged callback, config or
 * request never leaks them.
 */
import pino from 'pino';
import type { LogLevel } from './config';

export type Logger = pino.Logger;

const SENSITIVE_KEYS = [
  'signature',
  'Signature',
  'secret',
  'Secret',
  'secrets',
  'serverSecret',
  'callbackSecret',
  'callbackSecrets',
  'generatedCallbackSecret',
  'apiKey',
  'password',
  'databaseUrl',
  'alertWebhookUrl',
  'ZEGO_CALLBACK_SECRET',
  'ZEGO_SERVER_SECRET',
  'TEMPORAL_API_KEY',
  'DATABASE_URL',
  'ALERT_WEBHOOK_URL',
];

/** pino redaction paths: each sensitive key at the top level and one or two levels down. */
export const REDACT_PATHS: readonly string[] = [
  ...SENSITIVE_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

export interface LoggerOptions {
  level?: LogLevel;
  /** Bound to every line (e.g. `{ service: 'server' }`). */
  base?: Record<string, unknown>;
  /** Where lines go; default stdout. Tests pass a stream to capture them. */
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: { pid: process.pid, ...opts.base },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
