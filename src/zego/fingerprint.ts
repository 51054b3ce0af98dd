/**
 * A callback's fingerprint: what it means, without how it was signed.
 *
 * ZEGO signs only CallbackSecret + Timestamp + Nonce, not the body (shared doc §4.1), so a captured
 * signature could carry another body. The service binds each (Timestamp, Nonce) to the fingerprint of the
 * first body seen with it: an exact retry fingerprints the same, a changed Event, TaskId, Status,
 * Sequence, StopReason or Details does not. Key order never matters; array order (Outputs) does.
 */
import { hash } from 'node:crypto';
import type { TranscodeCallback } from './types';

/** Everything that is not a signature ingredient. */
type Meaning = Omit<TranscodeCallback, 'timestamp' | 'nonce'>;

/** The keys of Meaning in canonicalJson's (sorted) order. */
const MEANING_KEYS = [
  'appId',
  'event',
  'input',
  'outputs',
  'sequence',
  'status',
  'stopReason',
  'taskId',
  'userId',
] as const satisfies readonly (keyof Meaning)[];
/** Fails to compile when a field added to TranscodeCallback is missing above. */
const _everyMeaningKey: [Exclude<keyof Meaning, (typeof MEANING_KEYS)[number]>] extends [never]
  ? true
  : never = true;

/** sha256 of canonicalJson of the meaning fields, written straight from `cb` (no object to sort). */
export function callbackFingerprint(cb: TranscodeCallback): string {
  let out = '{';
  for (const key of MEANING_KEYS) {
    const value = cb[key];
    if (value === undefined) continue;
    if (out.length > 1) out += ',';
    out += `"${key}":${canonicalJson(value)}`;
  }
  return hash('sha256', `${out}}`, 'hex');
}

/**
 * JSON with object keys sorted at every level and undefined members left out. Written by hand because it
 * runs per callback: the same text as JSON.stringify and Array#sort would give, at a third of the cost.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'string') return quoted(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    // A hole stays empty, as Array#map + join left it.
    for (let i = 0; i < value.length; i++)
      out += (i ? ',' : '') + (i in value ? canonicalJson(value[i]) : '');
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  for (const key of sortInPlace(Object.keys(record))) {
    const item = record[key];
    if (item === undefined) continue;
    if (out.length > 1) out += ',';
    out += memberPrefix(key) + canonicalJson(item);
  }
  return `${out}}`;
}

/** JSON.stringify(text), skipping the call when nothing needs escaping (quote, backslash, control, surrogate). */
function quoted(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/** Array#sort's default order (UTF-16 code units); insertion sort is quickest for a handful of keys. */
function sortInPlace(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i];
    let j = i - 1;
    for (; j >= 0 && keys[j] > key; j--) keys[j + 1] = keys[j];
    keys[j + 1] = key;
  }
  return keys;
}

/** `"key":`, remembered: the same few keys come back in every callback. Bounded against junk keys. */
const prefixes = new Map<string, string>();

function memberPrefix(key: string): string {
  let prefix = prefixes.get(key);
  if (prefix === undefined) {
    prefix = `${quoted(key)}:`;
    if (key.length <= 64 && prefixes.size < 1024) prefixes.set(key, prefix);
  }
  return prefix;
}
