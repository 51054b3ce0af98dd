/**
 * Callback body decoding: raw bytes → one plain object with lowercased keys.
 *
 * ZEGO says the body is "JSON, please UrlDecode it", its own samples read form fields, and support can
 * switch a project to Form format (shared doc §3, §9 #5). So we try, in this order:
 *   (a) the whole body as JSON;
 *   (b) the whole body percent-decoded (decodeURIComponent, so `+` stays `+`), then as JSON;
 *   (c) form fields (Content-Type application/x-www-form-urlencoded, or a body that looks like k=v&k=v).
 * JSON is parsed losslessly: a 19-digit Nonce sent as a JSON number keeps every digit (§9 #4), because the
 * signature must see exactly the text that was received.
 *
 * Nothing here throws: every failure comes back as `{ ok: false, error, details }`.
 */
import { isUtf8 } from 'node:buffer';
import { parse as parseLosslessJson } from 'lossless-json';

/** A JSON number kept as the exact text it had in the body (`1.50` stays `1.50`, 19 digits stay 19). */
export class JsonNumber {
  constructor(readonly text: string) {
    Object.freeze(this);
  }

  toString(): string {
    return this.text;
  }
}

export type DecodedScalar = string | JsonNumber | boolean | null;
export type DecodedValue = DecodedScalar | DecodedValue[] | DecodedObject;
/** A null-prototype object whose keys are lowercased at every level (ZEGO's casing varies, §9 #2). */
export interface DecodedObject {
  [key: string]: DecodedValue | undefined;
}

export type BodyFormat = 'json' | 'urlencoded-json' | 'form';

export type DecodeResult =
  { ok: true; value: DecodedObject; format: BodyFormat } | { ok: false; error: string; details: string[] };

/** Real callbacks nest 4 levels deep; anything far deeper is junk and must not exhaust the stack. */
export const MAX_NESTING_DEPTH = 32;

const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';
/** k=v pairs as a form encoder writes them: no whitespace, no structural JSON characters in keys. */
const LOOKS_LIKE_FORM = /^[^=&\s{}[\]"]+=[^&\s]*(?:&[^=&\s{}[\]"]+=[^&\s]*)*&?$/;
/** Keys that only a whole callback object carries; used to unwrap a form whose single field is the callback. */
const CALLBACK_KEYS = ['event', 'timestamp', 'nonce', 'signature'];
const MAX_DETAIL_LENGTH = 200;

/** Raised inside this module only; always turned into a DecodeResult before leaving it. */
class DecodeFailure extends Error {}

export function isDecodedObject(value: unknown): value is DecodedObject {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber)
  );
}

/** The exact text of a string or JSON number; undefined for anything else. */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof JsonNumber) return value.text;
  return undefined;
}

/** Parses one JSON text losslessly and lowercases its keys. Used for whole bodies and JSON-in-a-field. */
export function decodeJsonText(
  text: string,
): { ok: true; value: DecodedValue } | { ok: false; error: string } {
  try {
    return { ok: true, value: parseJson(text) };
  } catch (err) {
    return { ok: false, error: describe(err) };
  }
}

export function decodeCallbackBody(
  body: Buffer | Uint8Array | string,
  contentType: string | undefined,
): DecodeResult {
  try {
    return decodeUnsafe(body, contentType);
  } catch (err) {
    if (err instanceof DecodeFailure) return { ok: false, error: err.message, details: [] };
    // Last line of defence: decoding must never throw, whatever arrives.
    return { ok: false, error: 'Callback body could not be decoded', details: [describe(err)] };
  }
}

function decodeUnsafe(body: unknown, contentType: unknown): DecodeResult {
  const text = bodyText(body);
  if (typeof text !== 'string') return text;
  if (text.trim() === '') return { ok: false, error: 'Callback body is empty', details: [] };

  const tried: string[] = [];

  // (a) the whole body as JSON.
  const asJson = tryJsonObject(text);
  if (asJson.ok) return { ok: true, value: asJson.value, format: 'json' };
  if (asJson.fatal) return { ok: false, error: asJson.error, details: [] };
  tried.push(`as JSON: ${asJson.error}`);

  // (b) the whole body percent-decoded, then as JSON. decodeURIComponent, not form decoding: `+` stays `+`.
  if (text.includes('%')) {
    let decoded: string | undefined;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      tried.push('as URL-encoded JSON: malformed percent-encoding');
    }
    if (decoded !== undefined) {
      const asEncodedJson = tryJsonObject(decoded);
      if (asEncodedJson.ok) return { ok: true, value: asEncodedJson.value, format: 'urlencoded-json' };
      if (asEncodedJson.fatal) return { ok: false, error: asEncodedJson.error, details: [] };
      tried.push(`as URL-encoded JSON: ${asEncodedJson.error}`);
    }
  } else {
    tried.push('as URL-encoded JSON: no percent-encoding in the body');
  }

  // (c) form fields.
  const trimmed = text.trim();
  const declaredForm = mediaType(contentType) === FORM_CONTENT_TYPE;
  const startsLikeJson = trimmed.startsWith('{') || trimmed.startsWith('[');
  if (!startsLikeJson && (LOOKS_LIKE_FORM.test(trimmed) || (declaredForm && /[^&=]=/.test(trimmed)))) {
    return { ok: true, value: parseForm(trimmed), format: 'form' };
  }
  tried.push(
    startsLikeJson
      ? 'as form fields: the body starts like JSON'
      : declaredForm
        ? 'as form fields: no key=value pair in the body'
        : `as form fields: Content-Type is ${contentTypeLabel(contentType)} and the body does not look like key=value pairs`,
  );

  return {
    ok: false,
    error: 'Callback body is not a JSON object, URL-encoded JSON or form fields',
    details: tried.map((detail) => clip(detail)),
  };
}

/** Bytes → text. Non-UTF-8 bytes would silently become U+FFFD and change what the signature sees. */
function bodyText(body: unknown): string | DecodeResult {
  if (typeof body === 'string') return stripBom(body);
  if (!(body instanceof Uint8Array)) {
    return {
      ok: false,
      error: 'Callback body is missing',
      details: [`expected bytes, got ${typeName(body)}`],
    };
  }
  if (!isUtf8(body)) return { ok: false, error: 'Callback body is not valid UTF-8', details: [] };
  return stripBom(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

type JsonObjectAttempt = { ok: true; value: DecodedObject } | { ok: false; error: string; fatal: boolean };

/**
 * JSON that parses but is not an object (an array, a number…) is a definite answer: the body is JSON and
 * wrong (`fatal`), so no other format is tried. Key-casing conflicts are fatal for the same reason.
 */
function tryJsonObject(text: string): JsonObjectAttempt {
  let value: DecodedValue;
  try {
    value = parseJson(text);
  } catch (err) {
    if (err instanceof DecodeFailure) return { ok: false, error: err.message, fatal: true };
    return { ok: false, error: describe(err), fatal: false };
  }
  if (isDecodedObject(value)) return { ok: true, value };
  return {
    ok: false,
    error: `Callback body is JSON but not an object (got ${typeName(value)})`,
    fatal: true,
  };
}

function parseJson(text: string): DecodedValue {
  // lossless-json recurses per nesting level: refuse absurd depth before it can overflow the stack.
  checkNestingDepth(text);
  const raw = parseLosslessJson(text, null, (numberText: string) => new JsonNumber(numberText));
  return normalize(raw, 0, '');
}

/** Counts brackets outside strings; linear, and never recursive. */
function checkNestingDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > MAX_NESTING_DEPTH)
        throw new SyntaxError(`JSON nested deeper than ${MAX_NESTING_DEPTH} levels`);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
}

/** Lowercases keys into null-prototype objects (so `__proto__` is just a key) and keeps numbers as text. */
function normalize(value: unknown, depth: number, path: string): DecodedValue {
  if (depth > MAX_NESTING_DEPTH)
    throw new DecodeFailure(`Callback body is nested deeper than ${MAX_NESTING_DEPTH} levels`);
  if (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    value instanceof JsonNumber
  ) {
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => normalize(item, depth + 1, `${path}[${i}]`));
  if (typeof value === 'object') {
    const out = Object.create(null) as DecodedObject;
    const originalKey = Object.create(null) as Record<string, string>;
    for (const key of Object.keys(value)) {
      const lower = key.toLowerCase();
      const item = normalize(
        (value as Record<string, unknown>)[key],
        depth + 1,
        `${path}${path ? '.' : ''}${key}`,
      );
      setOnce(out, originalKey, lower, key, item, path);
    }
    return out;
  }
  // lossless-json yields only the types above; anything else is a bug worth reporting, not crashing on.
  throw new DecodeFailure(`Callback body contains an unsupported value (${typeName(value)})`);
}

/**
 * ZEGO keys are case-insensitive, so `Appid` and `appid` name one field. Equal values are harmless
 * repeats; different values are ambiguous, and guessing which one counts would be unsafe.
 */
function setOnce(
  out: DecodedObject,
  originalKey: Record<string, string>,
  lower: string,
  key: string,
  value: DecodedValue,
  path: string,
): void {
  const existing = out[lower];
  if (existing !== undefined && !sameValue(existing, value)) {
    const where = path ? ` in ${path}` : '';
    throw new DecodeFailure(
      `Callback body has conflicting values for ${quote(originalKey[lower])} and ${quote(key)}${where} (ZEGO keys are case-insensitive)`,
    );
  }
  if (existing === undefined) originalKey[lower] = key;
  out[lower] = value;
}

function sameValue(a: DecodedValue, b: DecodedValue): boolean {
  if (a instanceof JsonNumber || b instanceof JsonNumber) {
    return a instanceof JsonNumber && b instanceof JsonNumber && a.text === b.text;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
    );
  }
  if (isDecodedObject(a) && isDecodedObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every((k) => k in b && sameValue(a[k] as DecodedValue, b[k] as DecodedValue))
    );
  }
  return a === b;
}

/**
 * Form fields (URLSearchParams: `+` is a space here, as in any form). A field holding a JSON object or
 * array (e.g. Details) is parsed too; a form whose only field is a whole JSON callback is unwrapped.
 */
function parseForm(text: string): DecodedObject {
  const out = Object.create(null) as DecodedObject;
  const originalKey = Object.create(null) as Record<string, string>;
  let fields = 0;
  for (const [key, raw] of new URLSearchParams(text)) {
    fields++;
    setOnce(out, originalKey, key.toLowerCase(), key, formValue(raw), '');
  }
  if (fields === 1) {
    const only = Object.values(out)[0];
    if (isDecodedObject(only) && CALLBACK_KEYS.some((k) => k in only)) return only;
  }
  return out;
}

function formValue(raw: string): DecodedValue {
  const trimmed = raw.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return raw;
  const parsed = decodeJsonText(trimmed);
  // A value that merely starts with a bracket is still a legitimate string.
  return parsed.ok ? parsed.value : raw;
}

function mediaType(contentType: unknown): string {
  return typeof contentType === 'string' ? (contentType.split(';')[0] ?? '').trim().toLowerCase() : '';
}

function contentTypeLabel(contentType: unknown): string {
  return typeof contentType === 'string' && contentType.trim() !== ''
    ? quote(clip(contentType.trim(), 60))
    : 'missing';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof JsonNumber) return 'a number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function describe(err: unknown): string {
  try {
    return clip(err instanceof Error ? err.message : String(err));
  } catch {
    return 'unknown error';
  }
}

function quote(text: string | undefined): string {
  return JSON.stringify(text ?? '');
}

function clip(text: string, max = MAX_DETAIL_LENGTH): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
