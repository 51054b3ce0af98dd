/**
 * What every CLI command shares: errors with exit codes, argument parsing (`node:util` parseArgs),
 * the HTTP client of the running service, and plain-text tables.
 *
 * Exit codes: 0 success, 1 failure (service unreachable, not found, refused, ZEGO error),
 * 2 usage error (unknown flag, missing or malformed argument, missing configuration).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const DEFAULT_SERVICE_URL = 'http://127.0.0.1:3000';
const REQUEST_TIMEOUT_MS = 30_000;

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error the CLI reports as one message (plus an optional hint) and exits with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, EXIT_USAGE, hint);
}

/** Where a command writes and what it reads; injectable so `run` can be driven in-process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  readStdin(): Promise<string>;
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

export type OptionValues = Record<string, string | boolean | undefined>;

export interface ParsedArgs {
  values: OptionValues;
  positionals: string[];
}

/** Strict parse: an unknown flag, a missing value or a value given to a boolean is a usage error. */
export function parseStrict(args: string[], options: OptionSpec): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as OptionValues, positionals };
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw usageError(`--${name} needs a value`);
  return value;
}

/** The running service's base URL: `--url`, else ZEGO_SERVICE_URL, else the local default. */
export function serviceUrl(values: OptionValues, env: CliIo['env']): string {
  const raw = stringOption(values, 'url') ?? (env.ZEGO_SERVICE_URL?.trim() || DEFAULT_SERVICE_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`${JSON.stringify(raw)} is not a URL (--url or ZEGO_SERVICE_URL)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`${JSON.stringify(raw)} is not an http(s) URL (--url or ZEGO_SERVICE_URL)`);
  }
  return url.toString().replace(/\/+$/, '');
}

/**
 * The admin token: `--token`, else the first of ADMIN_TOKEN's comma-separated tokens (the server's
 * own variable, so one environment serves both). Undefined when neither is set.
 */
export function adminToken(values: OptionValues, env: CliIo['env']): string | undefined {
  const given = stringOption(values, 'token') ?? env.ADMIN_TOKEN?.split(',')[0]?.trim();
  return given || undefined;
}

/** The client of the running service that `--url`/`--token` (or their variables) point at. */
export function serviceClient(values: OptionValues, env: CliIo['env']): ServiceClient {
  return new ServiceClient(serviceUrl(values, env), adminToken(values, env));
}

export interface ServiceReply {
  status: number;
  body: Record<string, unknown>;
}

/** JSON over HTTP to the running service; network problems become a CliError (exit 1). */
export class ServiceClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  async request(
    method: 'GET' | 'POST',
    pathAndQuery: string,
    init: { body?: string; contentType?: string } = {},
  ): Promise<ServiceReply> {
    const url = `${this.baseUrl}${pathAndQuery}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        body: init.body,
        headers: {
          accept: 'application/json',
          ...(init.contentType ? { 'content-type': init.contentType } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      text = await res.text();
    } catch (err) {
      throw new CliError(
        `cannot reach the service at ${this.baseUrl}: ${describeFetchError(err)}`,
        EXIT_FAILURE,
        'is it running? Point the CLI at it with --url or ZEGO_SERVICE_URL',
      );
    }
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new CliError(
        `${method} ${url} answered HTTP ${res.status} with something other than a JSON object: ${clip(text)}`,
      );
    }
    return { status: res.status, body: body as Record<string, unknown> };
  }

  get(pathAndQuery: string): Promise<ServiceReply> {
    return this.request('GET', pathAndQuery);
  }
}

/** The CliError for a service answer that is not a success. 400 is a usage error (exit 2). */
export function replyError(reply: ServiceReply, what: string): CliError {
  const error = typeof reply.body.error === 'string' ? reply.body.error : `HTTP ${reply.status}`;
  const details = formatDetails(reply.body.details);
  const message = `${what}: ${error}${details ? ` (${details})` : ''}`;
  if (reply.status === 400) return usageError(message);
  if (reply.status === 401) {
    return new CliError(message, EXIT_FAILURE, 'pass the admin token with --token or ADMIN_TOKEN');
  }
  return new CliError(message);
}

export function formatDetails(details: unknown): string {
  if (!Array.isArray(details) || details.length === 0) return '';
  return details
    .map((d) => {
      if (typeof d === 'object' && d !== null) {
        const { field, message } = d as { field?: unknown; message?: unknown };
        if (typeof field === 'string' && typeof message === 'string') return `${field} ${message}`;
        if (typeof message === 'string') return message;
        return JSON.stringify(d);
      }
      return String(d);
    })
    .join('; ');
}

/** Prints a value as pretty JSON (the `--json` output). */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

export type Cell = string | number | boolean | null | undefined;

/** A plain-text table: header row, then rows; numeric columns are right-aligned. */
export function renderTable(headers: string[], rows: Cell[][], indent = ''): string {
  const text = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...text.map(line)].join('\n') + '\n';
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '-';
  return String(cell);
}

/** `key  value` lines with aligned keys. */
export function renderFields(fields: [string, Cell][]): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(width)}  ${cellText(v)}`).join('\n') + '\n';
}

/** undici says only "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND…) is in `cause`. */
export function describeFetchError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 3 && typeof e === 'object' && e !== null && 'message' in e; depth++) {
    const { message, code, cause, name } = e as {
      message: unknown;
      code?: unknown;
      cause?: unknown;
      name?: unknown;
    };
    if (name === 'TimeoutError') parts.push(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    else parts.push(typeof code === 'string' ? `${String(message)} (${code})` : String(message));
    e = cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine || '(empty body)';
}

export const enc = encodeURIComponent;

/** What a command receives: its own positionals (after the command words) and parsed options. */
export interface CommandContext {
  io: CliIo;
  values: OptionValues;
  args: string[];
  json: boolean;
}

export interface Command {
  /** The command words, e.g. `tasks show`. */
  name: string;
  summary: string;
  /** Full help text (usage line, options, examples). */
  help: string;
  options: OptionSpec;
  run(ctx: CommandContext): Promise<number>;
}

/** Exactly `count` positionals, else a usage error naming what is expected. */
export function expectArgs(ctx: CommandContext, names: string[]): string[] {
  if (ctx.args.length < names.length) throw usageError(`missing ${names.slice(ctx.args.length).join(' ')}`);
  if (ctx.args.length > names.length) {
    throw usageError(
      `unexpected argument${ctx.args.length - names.length > 1 ? 's' : ''}: ${ctx.args.slice(names.length).join(' ')}`,
    );
  }
  return ctx.args;
}
