/**
 * Field parsers of the configuration declarations (src/config/variables.ts). Each takes the raw
 * variable (undefined when unset or blank) and reports problems through zod's context, so one pass
 * collects every bad variable; each also carries the default it applies, as the docs show it.
 */
import ms from 'ms';
import { z } from 'zod';
import { parsePriceTable, ZEGO_LIST_PRICES } from '../zego/billing';
import { TIERS, type PriceTable, type Tier } from '../zego/billing-types';

/** A variable's parser and the default it applies when the variable is unset. */
export interface Field<T> {
  schema: z.ZodType<T>;
  /** As the configuration page shows it (a value in backticks, or words). */
  default: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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

const UNSET = 'unset';
const code = (value: string | number) => `\`${value}\``;

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
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function duration(
  fallback: string,
  { maxMs = 10 * 365 * 24 * 3600 * 1000, zeroAllowed = false } = {},
): Field<number> {
  const schema = raw().transform((value, ctx): number => {
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
  return { schema, default: code(fallback) };
}

export function integer(fallback: number, min: number, max: number, what: string): Field<number> {
  const schema = raw().transform((value, ctx): number => {
    if (value === undefined) return fallback;
    const text = value.trim();
    if (!/^\d+$/.test(text)) return fail(ctx, `${show(value)} is not ${what}`);
    const n = Number(text);
    if (n < min || n > max) return fail(ctx, `${show(value)} is out of range (${min}–${max})`);
    return n;
  });
  return { schema, default: code(fallback) };
}

export function text(fallback: string): Field<string> {
  return { schema: raw().transform((value) => (value ?? fallback).trim()), default: code(fallback) };
}

/** Trimmed text, undefined when unset. */
export function optionalText(): Field<string | undefined> {
  return { schema: raw().transform((value) => value?.trim()), default: UNSET };
}

/** An absolute URL with one of the given protocols. The value is echoed only when `echo`. */
export function url(protocols: readonly string[], echo: boolean): Field<string | undefined> {
  const expected = protocols.map((p) => `${p}//`).join(' or ');
  const schema = raw().transform((value, ctx): string | undefined => {
    if (value === undefined) return undefined;
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
  return { schema, default: UNSET };
}

/** `host:port` of a listening socket (e.g. `0.0.0.0:9464`); optional. */
export function hostPort(): Field<string | undefined> {
  const schema = raw().transform((value, ctx): string | undefined => {
    if (value === undefined) return undefined;
    const m = /^(.+):(\d{1,5})$/.exec(value.trim());
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      return fail(ctx, `${show(value)} is not host:port (e.g. 0.0.0.0:9464)`);
    return value.trim();
  });
  return { schema, default: UNSET };
}

/** A port number, undefined when unset. */
export function optionalPort(): Field<number | undefined> {
  const schema = raw().transform((value, ctx): number | undefined => {
    if (value === undefined) return undefined;
    const text = value.trim();
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(n >= 0 && n <= 65535)) return fail(ctx, `${show(value)} is not a port number (0–65535)`);
    return n;
  });
  return { schema, default: UNSET };
}

/** Comma-separated secrets for rotation; never echoed. */
export function secretList(required: boolean): z.ZodType<string[]> {
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
export function tokenList(): Field<string[]> {
  const schema = raw().transform((value, ctx): string[] => {
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
  return { schema, default: UNSET };
}

export function logLevel(fallback: LogLevel): Field<LogLevel> {
  const schema = raw().transform((value, ctx): LogLevel => {
    const level = (value ?? fallback).trim().toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
    return fail(ctx, `${show(value ?? '')} is not a log level (${LOG_LEVELS.join(', ')})`);
  });
  return { schema, default: code(fallback) };
}

export function taskQueue(fallback: string): Field<string> {
  const schema = raw().transform((value, ctx): string => {
    const queue = (value ?? fallback).trim();
    if (queue.length > 200) return fail(ctx, 'is longer than 200 characters');
    return queue;
  });
  return { schema, default: code(fallback) };
}

export function tier(fallback: Tier): Field<Tier> {
  const schema = raw().transform((value, ctx): Tier => {
    const t = (value ?? fallback).trim().toLowerCase();
    if ((TIERS as readonly string[]).includes(t)) return t as Tier;
    return fail(ctx, `${show(value ?? '')} is not a tier (${TIERS.join(', ')})`);
  });
  return { schema, default: code(fallback) };
}

export function prices(): Field<PriceTable> {
  const schema = raw().transform((value, ctx): PriceTable => {
    if (value === undefined) return { ...ZEGO_LIST_PRICES };
    try {
      return parsePriceTable(value);
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
      return fail(ctx, `${reason} (a partial override such as {"hd": 30}, CNY per 1000 minutes)`);
    }
  });
  return { schema, default: "ZEGO's list prices" };
}

export function zegoAppId(): Field<string | undefined> {
  const schema = raw().transform((value, ctx): string | undefined => {
    if (value === undefined) return undefined;
    const id = value.trim();
    if (!/^\d{1,10}$/.test(id) || Number(id) > 0xffffffff || Number(id) === 0)
      return fail(ctx, `${show(value)} is not a ZEGO AppId (a positive 32-bit decimal number)`);
    return id;
  });
  return { schema, default: UNSET };
}
