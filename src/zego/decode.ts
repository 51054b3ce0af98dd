/**
 * Callback body decoding: raw bytes → one plain object with lowercased keys.
 *
 * ZEGO says the body is "JSON, please UrlDecode it", its own samples read form fields, and support can
 * switch a project to Form format (shared doc §3, §9 #5). So we try, in this order:
 *   (a) the whole body as JSON;
 *   (b) the whole body percent-decoded (decodeURIComponent, so `+` stays `+`), then as JSON;
 *   (c) form fields (Content-Type application/x-www-form-urlencoded, or a body that looks like k=v&k=v).
 * JSON is parsed losslessly: a 19-digit Nonce sent as a JSON number keeps every digit (§9 #4), because the
 * signature must see exactly the text that was received. Texts whose numbers are all small integers (the
 * usual callback) take native JSON.parse instead, which gives the same result much faster.
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

/** decodeJsonText without the native fast path: the reference it must always agree with (tests). */
export function decodeJsonTextLossless(
  text: string,
): { ok: true; value: DecodedValue } | { ok: false; error: string } {
  try {
    scanJson(text);
    return { ok: true, value: parseScannedLossless(text) };
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

  // A thunk is an attempt skipped because it cannot succeed; its message is only worked out if needed.
  const tried: (string | (() => string))[] = [];

  // (a) the whole body as JSON.
  if (canStartJsonValue(firstNonBlank(text, false))) {
    const asJson = tryJsonObject(text);
    if (asJson.ok) return { ok: true, value: asJson.value, format: 'json' };
    if (asJson.fatal) return { ok: false, error: asJson.error, details: [] };
    tried.push(`as JSON: ${asJson.error}`);
  } else {
    tried.push(() => `as JSON: ${(tryJsonObject(text) as { error: string }).error}`);
  }

  // (b) the whole body percent-decoded, then as JSON. decodeURIComponent, not form decoding: `+` stays `+`.
  if (!text.includes('%')) {
    tried.push('as URL-encoded JSON: no percent-encoding in the body');
  } else if (canStartJsonValue(firstNonBlank(text, true))) {
    const asEncodedJson = tryUrlEncodedJson(text);
    if (asEncodedJson.ok) return { ok: true, value: asEncodedJson.value, format: 'urlencoded-json' };
    if (asEncodedJson.fatal) return { ok: false, error: asEncodedJson.error, details: [] };
    tried.push(asEncodedJson.error);
  } else {
    tried.push(() => (tryUrlEncodedJson(text) as { error: string }).error);
  }

  // (c) form fields.
  const trimmed = text.trim();
  const declaredForm = mediaType(contentType) === FORM_CONTENT_TYPE;
  const startsLikeJson = trimmed.startsWith('{') || trimmed.startsWith('[');
  // The declared-form test first: it stops at the first `k=`, the other reads the whole body.
  if (!startsLikeJson && ((declaredForm && /[^&=]=/.test(trimmed)) || LOOKS_LIKE_FORM.test(trimmed))) {
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
    details: tried.map((detail) => clip(typeof detail === 'string' ? detail : detail())),
  };
}

/** (b): its error already carries the "as URL-encoded JSON: " prefix. */
function tryUrlEncodedJson(text: string): JsonObjectAttempt {
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    return { ok: false, error: 'as URL-encoded JSON: malformed percent-encoding', fatal: false };
  }
  const attempt = tryJsonObject(decoded);
  return attempt.ok || attempt.fatal
    ? attempt
    : { ...attempt, error: `as URL-encoded JSON: ${attempt.error}` };
}

/**
 * The first character other than JSON whitespace, after percent-decoding when `percentDecoded`; -1 at
 * the end of the text or at a `%` that decodeURIComponent would refuse. A byte >= 0x80 stands for
 * whatever non-ASCII character (or error) it starts: none of them can start a JSON value either.
 */
function firstNonBlank(text: string, percentDecoded: boolean): number {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (percentDecoded && c === 0x25 /* % */) {
      c = (hexDigit(text.charCodeAt(i + 1)) << 4) | hexDigit(text.charCodeAt(i + 2));
      if (c < 0) return -1;
      i += 2;
    }
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return -1;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -0x100; // keeps the combined byte negative
}

/** Whether a JSON text may start with this character: when not, parsing it is certain to fail. */
function canStartJsonValue(c: number): boolean {
  return (
    c === 0x7b /* { */ ||
    c === 0x5b /* [ */ ||
    c === 0x22 /* " */ ||
    c === 0x2d /* - */ ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x74 /* t */ ||
    c === 0x66 /* f */ ||
    c === 0x6e /* n */
  );
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
  const scan = scanJson(text);
  if (scan.nativeSafe) {
    const value = parseJsonNative(text, scan.members);
    if (value !== undefined) return value;
  }
  return parseScannedLossless(text);
}

/** Only for a text that scanJson has let through: lossless-json recurses per nesting level. */
function parseScannedLossless(text: string): DecodedValue {
  const raw = parseLosslessJson(text, null, (numberText: string) => new JsonNumber(numberText));
  return normalize(raw, 0, new NormalizeState());
}

/**
 * JSON.parse, used only where it must agree with lossless-json: every number is an integer that a double
 * holds exactly (checked by scanJson), and no key repeats within an object (JSON.parse keeps the last one
 * silently, lossless-json refuses different values), which shows as fewer keys than `:` in the text.
 * Anything unusual (invalid JSON, a conflict) returns undefined, and lossless-json decides and words it.
 */
function parseJsonNative(text: string, members: number): DecodedValue | undefined {
  try {
    const state = new NormalizeState();
    const value = normalize(JSON.parse(text), 0, state);
    return state.members === members ? value : undefined;
  } catch {
    return undefined;
  }
}

interface JsonScan {
  /** Every number token is `0` or `-?[1-9]\d{0,14}`: String(JSON.parse(token)) gives the token back. */
  nativeSafe: boolean;
  /** `:` outside strings: in valid JSON, the number of object members. */
  members: number;
}

/**
 * One linear, non-recursive pass: refuses absurd nesting before a recursive parser can overflow the stack
 * (brackets outside strings), and gathers what parseJsonNative needs.
 */
function scanJson(text: string): JsonScan {
  let depth = 0;
  let nativeSafe = true;
  let members = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Jump to the closing quote: the next one not escaped, i.e. after an even run of backslashes.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return { nativeSafe, members }; // unterminated: the rest is string
        let b = end - 1;
        while (b > i && text.charCodeAt(b) === 0x5c /* \ */) b--;
        if ((end - 1 - b) % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > MAX_NESTING_DEPTH)
        throw new SyntaxError(`JSON nested deeper than ${MAX_NESTING_DEPTH} levels`);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x3a /* : */) {
      members++;
    } else if (nativeSafe && (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39))) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      nativeSafe = isSmallIntegerToken(text, i, end);
      i = end - 1;
    }
  }
  return { nativeSafe, members };
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
}

/** `0` or `-?[1-9]\d{0,14}`: no fraction, exponent, `-0`, or digits beyond what a double holds exactly. */
function isSmallIntegerToken(text: string, start: number, end: number): boolean {
  const digits = text.charCodeAt(start) === 0x2d ? start + 1 : start;
  if (end - digits < 1 || end - digits > 15) return false;
  if (text.charCodeAt(digits) === 0x30) return end - start === 1;
  for (let i = digits; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * key.toLowerCase(), remembered: callbacks repeat the same few dozen keys, and a remembered result is a
 * string V8 has already internalized, which makes storing it as a property markedly cheaper. Bounded,
 * so that junk keys cannot grow it.
 */
const lowerKeys = new Map<string, string>();

function lowerKey(key: string): string {
  let lower = lowerKeys.get(key);
  if (lower === undefined) {
    lower = key.toLowerCase();
    if (key.length <= 64 && lowerKeys.size < 1024) lowerKeys.set(key, lower);
  }
  return lower;
}

/** Counts keys (for parseJsonNative) and tracks the path, turned into text only for an error. */
class NormalizeState {
  members = 0;
  readonly path: (string | number)[] = [];

  pathText(): string {
    let out = '';
    for (const part of this.path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${part}`;
    return out;
  }
}

/** Lowercases keys into null-prototype objects (so `__proto__` is just a key) and keeps numbers as text. */
function normalize(value: unknown, depth: number, state: NormalizeState): DecodedValue {
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
  // Only from JSON.parse, and only for integers that parseJsonNative checked to keep their exact text.
  if (typeof value === 'number') return new JsonNumber(String(value));
  if (Array.isArray(value)) {
    const out: DecodedValue[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      state.path.push(i);
      out[i] = normalize(value[i], depth + 1, state);
      state.path.pop();
    }
    return out;
  }
  if (typeof value === 'object') {
    const out = Object.create(null) as DecodedObject;
    const keys = Object.keys(value);
    state.members += keys.length;
    for (const key of keys) {
      state.path.push(key);
      const item = normalize((value as Record<string, unknown>)[key], depth + 1, state);
      state.path.pop();
      const lower = lowerKey(key);
      if (!setOnce(out, lower, item)) throw conflict(keys, lower, key, state.pathText());
    }
    return out;
  }
  // lossless-json yields only the types above; anything else is a bug worth reporting, not crashing on.
  throw new DecodeFailure(`Callback body contains an unsupported value (${typeName(value)})`);
}

/**
 * ZEGO keys are case-insensitive, so `Appid` and `appid` name one field. Equal values are harmless
 * repeats; different values are ambiguous, and guessing which one counts would be unsafe: false then.
 */
function setOnce(out: DecodedObject, lower: string, value: DecodedValue): boolean {
  const existing = out[lower];
  if (existing !== undefined && !sameValue(existing, value)) return false;
  out[lower] = value;
  return true;
}

/** `keys` in the order they were set; the first one spelled like `lower` is the one `key` conflicts with. */
function conflict(keys: Iterable<string>, lower: string, key: string, path: string): DecodeFailure {
  let first = key;
  for (const k of keys) {
    if (k.toLowerCase() === lower) {
      first = k;
      break;
    }
  }
  const where = path ? ` in ${path}` : '';
  return new DecodeFailure(
    `Callback body has conflicting values for ${quote(first)} and ${quote(key)}${where} (ZEGO keys are case-insensitive)`,
  );
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
  const pairs = formPairs(text);
  for (let i = 0; i < pairs.length; i += 2) {
    const key = pairs[i];
    const lower = lowerKey(key);
    if (!setOnce(out, lower, formValue(pairs[i + 1]))) {
      throw conflict(
        pairs.filter((_, j) => j % 2 === 0),
        lower,
        key,
        '',
      );
    }
  }
  if (pairs.length === 2) {
    const only = Object.values(out)[0];
    if (isDecodedObject(only) && CALLBACK_KEYS.some((k) => k in only)) return only;
  }
  return out;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * URLSearchParams' pairs, flat: [key, value, key, value…]. Split natively where that gives the same: Node
 * itself decodes each part with decodeURIComponent once `+` is a space. A leading `?`, a surrogate (made
 * well-formed first) or a `%` that decodeURIComponent refuses (decoded leniently) go to URLSearchParams.
 */
function formPairs(text: string): string[] {
  if (text.charCodeAt(0) === 0x3f /* ? */ || SURROGATE.test(text)) return urlSearchParamsPairs(text);
  const out: string[] = [];
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = formDecode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : formDecode(pair.slice(eq + 1));
    if (key === undefined || value === undefined) return urlSearchParamsPairs(text);
    out.push(key, value);
  }
  return out;
}

function formDecode(part: string): string | undefined {
  const spaced = part.includes('+') ? part.replaceAll('+', ' ') : part;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return undefined;
  }
}

function urlSearchParamsPairs(text: string): string[] {
  const out: string[] = [];
  for (const [key, value] of new URLSearchParams(text)) out.push(key, value);
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
