/**
 * The one entry point for an incoming ZEGO callback: decode → verify → route on Event → validate.
 *
 * The signature is checked on the raw decoded strings before any schema runs, so a body that is not
 * signed by ZEGO learns nothing about which of its fields would have been wrong. Routing uses `Event`,
 * never `Status` (ZEGO's own stop example says `TranscodeStarted`). This function never throws.
 */
import { decodeCallbackBody, isDecodedObject, JsonNumber, scalarText, type DecodedObject } from './decode';
import { callbackFingerprint } from './fingerprint';
import { parseTranscodeCallback, type FieldError } from './schemas';
import { CallbackSignatureError, verifyCallbackSignature } from './signature';
import type { TranscodeCallback, TranscodeEventName } from './types';

export type CallbackReadResult =
  /** → HTTP 400 */
  | { kind: 'unreadable'; error: string; details: string[] }
  /** → HTTP 401 */
  | { kind: 'unsigned'; error: string; code: CallbackSignatureError['code'] }
  /** → HTTP 400 */
  | { kind: 'invalid'; event: string; error: string; details: FieldError[] }
  /** → HTTP 200, ignored: correctly signed, but not an event this service handles. */
  | { kind: 'unknown_event'; event: string; appId: string | null }
  | { kind: 'transcode'; callback: TranscodeCallback; fingerprint: string; timestampMs: number };

export interface ReadCallbackOptions {
  /** Accepted CallbackSecrets (more than one during a rotation). */
  secrets: readonly string[];
  maxSkewMs: number;
  now?: () => number;
}

const TRANSCODE_EVENTS: readonly TranscodeEventName[] = ['transcode_start', 'transcode_stop'];

export function readCallback(
  body: Buffer,
  contentType: string | undefined,
  opts: ReadCallbackOptions,
): CallbackReadResult {
  try {
    return read(body, contentType, opts);
  } catch (err) {
    // Unreachable by design; kept so that a bug here becomes a 400, not a crashed request.
    const message = err instanceof Error ? err.message : 'unknown error';
    return { kind: 'unreadable', error: 'Callback could not be read', details: [message.slice(0, 200)] };
  }
}

function read(body: Buffer, contentType: string | undefined, opts: ReadCallbackOptions): CallbackReadResult {
  const decoded = decodeCallbackBody(body, contentType);
  if (!decoded.ok) return { kind: 'unreadable', error: decoded.error, details: decoded.details };
  const fields = decoded.value;

  const signed = checkSignature(fields, opts);
  if ('kind' in signed) return signed;

  const rawEvent = fields['event'];
  const eventText = scalarText(rawEvent);
  if (eventText === undefined || eventText === '') {
    const message =
      rawEvent === undefined || rawEvent === null || rawEvent === '' ? 'is required' : 'must be a string';
    return {
      kind: 'invalid',
      event: '',
      error: 'Callback has no usable Event',
      details: [{ field: 'Event', message }],
    };
  }

  // ZEGO writes event names in lowercase; other spellings are routed the same rather than dropped.
  const event = TRANSCODE_EVENTS.find((name) => name === eventText.trim().toLowerCase());
  if (!event) return { kind: 'unknown_event', event: eventText, appId: scalarText(fields['appid']) || null };

  const parsed = parseTranscodeCallback(event, fields);
  if (!parsed.ok) {
    const n = parsed.errors.length;
    return {
      kind: 'invalid',
      event,
      error: `${event} callback has ${n} invalid field${n === 1 ? '' : 's'}`,
      details: parsed.errors,
    };
  }
  return {
    kind: 'transcode',
    callback: parsed.callback,
    fingerprint: callbackFingerprint(parsed.callback),
    timestampMs: signed.timestampMs,
  };
}

/** Verifies on the values exactly as received: a string as is, a JSON number as its source text. */
function checkSignature(
  fields: DecodedObject,
  opts: ReadCallbackOptions,
): Extract<CallbackReadResult, { kind: 'unsigned' }> | { timestampMs: number } {
  try {
    return verifyCallbackSignature(
      {
        timestamp: signedText(fields, 'timestamp', 'malformed_timestamp', 'Timestamp'),
        nonce: signedText(fields, 'nonce', 'missing_nonce', 'Nonce'),
        signature: signedText(fields, 'signature', 'malformed_signature', 'Signature'),
      },
      opts.secrets,
      opts,
    );
  } catch (err) {
    if (err instanceof CallbackSignatureError)
      return { kind: 'unsigned', error: err.message, code: err.code };
    return { kind: 'unsigned', error: 'Signature could not be verified', code: 'signature_mismatch' };
  }
}

/** Absent or null → undefined (reported as missing); an object, array or boolean cannot have been signed. */
function signedText(
  fields: DecodedObject,
  key: string,
  wrongTypeCode: CallbackSignatureError['code'],
  zegoName: string,
): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || value instanceof JsonNumber) return scalarText(value);
  throw new CallbackSignatureError(
    wrongTypeCode,
    `${zegoName} must be a string or a number, got ${Array.isArray(value) ? 'an array' : isDecodedObject(value) ? 'an object' : typeof value}`,
  );
}
