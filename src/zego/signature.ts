/**
 * ZEGO's callback signature (shared doc §4): SHA-1 over CallbackSecret, Timestamp and Nonce, sorted as
 * strings and concatenated, as lowercase hex. Only those three values are signed; the body is not.
 *
 * Verification follows stripe-node / svix: one function, constant-time comparison, an injectable clock,
 * and an error whose code and message say exactly what was wrong without ever echoing a secret.
 */
import { createHash, hash, timingSafeEqual } from 'node:crypto';
import { timestampToMs } from './types';

export type CallbackSignatureErrorCode =
  | 'missing_timestamp'
  | 'missing_nonce'
  | 'missing_signature'
  | 'malformed_signature'
  | 'malformed_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_in_future'
  | 'signature_mismatch';

export class CallbackSignatureError extends Error {
  override name = 'CallbackSignatureError';

  constructor(
    readonly code: CallbackSignatureErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface CallbackSignatureInput {
  timestamp?: string;
  nonce?: string;
  signature?: string;
}

export interface VerifyOptions {
  /** Accepted distance between Timestamp and now, in both directions. */
  maxSkewMs: number;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

const SHA1_HEX = /^[0-9a-fA-F]{40}$/;
const ABOVE_D800 = /[\uD800-\uFFFF]/;
/** Unix time in seconds or milliseconds, as digits only (ZEGO sends it as a string or a JSON integer). */
const UNIX_TIME = /^\d{1,16}$/;

/**
 * The three strings are sorted in plain string (byte-wise) order, never numerically: `99` sorts after
 * `1700000000` (vector B). Byte-wise order equals PHP's `sort(SORT_STRING)` for any input.
 */
export function computeCallbackSignature(secret: string, timestamp: string, nonce: string): string {
  const parts = [secret, timestamp, nonce];
  // Below U+D800, UTF-16 order is UTF-8 byte order, so the strings can be sorted and hashed as they are.
  if (!parts.some((s) => ABOVE_D800.test(s))) return hash('sha1', parts.sort().join(''), 'hex');
  const bytes = parts.map((s) => Buffer.from(s, 'utf8')).sort(Buffer.compare);
  return createHash('sha1').update(Buffer.concat(bytes)).digest('hex');
}

/**
 * Throws CallbackSignatureError unless `signature` is ZEGO's signature of `timestamp` and `nonce` under one
 * of `secrets` (several during a rotation) and `timestamp` is within `maxSkewMs` of now.
 * The signature is checked over the timestamp text exactly as received (a ms value is not converted).
 * Returns the timestamp in epoch milliseconds, so that no one converts it again.
 */
export function verifyCallbackSignature(
  input: CallbackSignatureInput,
  secrets: readonly string[],
  opts: VerifyOptions,
): { timestampMs: number } {
  const { timestamp, nonce, signature } = input;
  if (!timestamp) throw new CallbackSignatureError('missing_timestamp', 'The callback has no Timestamp');
  if (!nonce) throw new CallbackSignatureError('missing_nonce', 'The callback has no Nonce');
  if (!signature) throw new CallbackSignatureError('missing_signature', 'The callback has no Signature');
  if (!SHA1_HEX.test(signature)) {
    throw new CallbackSignatureError(
      'malformed_signature',
      `Signature must be 40 hexadecimal characters (a SHA-1 digest); got ${signature.length} characters` +
        (signature.length === 40 ? ' with a non-hex character' : ''),
    );
  }

  // The signature comes first, so a stale or future Timestamp is only reported for a genuine ZEGO signature.
  if (!matchesAnySecret(signature, timestamp, nonce, secrets)) {
    const usable = secrets.filter((s) => s !== '').length;
    throw new CallbackSignatureError(
      'signature_mismatch',
      usable === 0
        ? 'Signature cannot be checked: no callback secret is configured'
        : `Signature does not match SHA-1 of the sorted CallbackSecret, Timestamp and Nonce (tried ${usable} secret${usable === 1 ? '' : 's'})`,
    );
  }

  if (!UNIX_TIME.test(timestamp)) {
    throw new CallbackSignatureError(
      'malformed_timestamp',
      `Timestamp ${JSON.stringify(clip(timestamp))} is not a Unix time in seconds or milliseconds`,
    );
  }
  const timestampMs = timestampToMs(timestamp);
  const nowMs = (opts.now ?? Date.now)();
  const ageMs = nowMs - timestampMs;
  // Written so that a NaN anywhere (bad clock, bad config) rejects instead of accepting.
  if (!(ageMs <= opts.maxSkewMs)) {
    throw new CallbackSignatureError(
      'timestamp_too_old',
      `Timestamp ${timestamp} is ${seconds(ageMs)} in the past, beyond the allowed skew of ${seconds(opts.maxSkewMs)}`,
    );
  }
  if (!(-ageMs <= opts.maxSkewMs)) {
    throw new CallbackSignatureError(
      'timestamp_in_future',
      `Timestamp ${timestamp} is ${seconds(-ageMs)} in the future, beyond the allowed skew of ${seconds(opts.maxSkewMs)}`,
    );
  }
  return { timestampMs };
}

/**
 * Compares against every secret, without stopping at the first match, in constant time per comparison.
 * ZEGO sends lowercase hex; uppercase is accepted because the digest is the same (§9 #8).
 * An empty secret is skipped: it would make the signature computable by anyone.
 */
function matchesAnySecret(
  signature: string,
  timestamp: string,
  nonce: string,
  secrets: readonly string[],
): boolean {
  const received = Buffer.from(signature.toLowerCase(), 'latin1');
  let matched = false;
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret === '') continue;
    const expected = Buffer.from(computeCallbackSignature(secret, timestamp, nonce), 'latin1');
    matched = timingSafeEqual(expected, received) || matched;
  }
  return matched;
}

function seconds(ms: number): string {
  return Number.isFinite(ms) ? `${Number((ms / 1000).toFixed(3))}s` : String(ms);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
