/**
 * The body encodings ZEGO may use for a callback (shared doc §3, §9 #5): JSON; the whole JSON
 * percent-encoded; or form fields (a project switched to Form format by ZEGO support), where the nested
 * `Details` object travels as a JSON string.
 */

import { BODY_ENCODINGS, encodeCallbackBody, type BodyEncoding } from '../zego/encode';

export { BODY_ENCODINGS, type BodyEncoding, type EncodedBody } from '../zego/encode';
/** `mixed` picks one of BODY_ENCODINGS per callback. */
export type EncodingChoice = BodyEncoding | 'mixed';
export const ENCODING_CHOICES: readonly EncodingChoice[] = [...BODY_ENCODINGS, 'mixed'];

/** A callback body before encoding, with ZEGO's own field names and JSON types. */
export type CallbackFields = Record<string, unknown>;

export const encodeBody = (fields: CallbackFields, encoding: BodyEncoding) =>
  encodeCallbackBody(fields, encoding);

/**
 * The inverse of encodeBody, for tests and for checking what was sent. Form values stay strings
 * (except `Details`, parsed back from its JSON text), as a form receiver would see them.
 */
export function decodeBody(body: string, contentType: string): CallbackFields {
  if (contentType.startsWith('application/json')) return JSON.parse(body) as CallbackFields;
  if (body.startsWith('%7B')) return JSON.parse(decodeURIComponent(body)) as CallbackFields;
  const fields: CallbackFields = {};
  for (const [key, value] of new URLSearchParams(body)) {
    fields[key] = key === 'Details' ? JSON.parse(value) : value;
  }
  return fields;
}
