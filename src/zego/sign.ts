/**
 * ZEGO's side of the callback signature, for whatever sends callbacks here: the operator CLI, the
 * simulator, the tests and the benchmarks. ./signature.ts holds the scheme and verifies it.
 */
import { randomInt } from 'node:crypto';
import { isLosslessNumber, LosslessNumber } from 'lossless-json';
import { computeCallbackSignature } from './signature';

/** A Timestamp or Nonce as a body carries it: text, or a JSON number (a bigint keeps every digit). */
export type SignedValue = string | number | bigint | LosslessNumber;

export interface CallbackSigning {
  secret: string;
  /** Sent as given and signed as its decimal text. Default: now, in seconds. */
  timestamp?: SignedValue;
  /** Sent and signed like `timestamp`. Default: 19 random digits, as ZEGO's. */
  nonce?: SignedValue;
  /** Sent instead of the computed signature (to send a wrong one). */
  signature?: string;
  /** Clock of the default timestamp, epoch ms. Default Date.now. */
  now?: () => number;
}

export interface SignatureFields {
  Timestamp: SignedValue;
  Nonce: SignedValue;
  Signature: string;
}

/** 19 digits, the first one non-zero, like the nonces ZEGO sends (e.g. 7257784982359218206). */
export function randomNonce(): string {
  let digits = String(randomInt(1, 10));
  while (digits.length < 19) digits += String(randomInt(0, 10));
  return digits;
}

/** The Timestamp, Nonce and Signature of one delivery. */
export function signatureFields(signing: CallbackSigning): SignatureFields {
  const timestamp = signing.timestamp ?? String(Math.floor((signing.now ?? Date.now)() / 1000));
  const nonce = signing.nonce ?? randomNonce();
  const signature =
    signing.signature ?? computeCallbackSignature(signing.secret, String(timestamp), String(nonce));
  return { Timestamp: timestamp, Nonce: nonce, Signature: signature };
}

/**
 * A copy of `body` with a Timestamp, Nonce and Signature, each under the key the body already has
 * for it whatever its casing (ZEGO's casing otherwise); other fields are kept as they are. A
 * generated value takes the JSON type of the one it replaces, so a re-signed body keeps its shape.
 */
export function signCallbackBody(
  body: Readonly<Record<string, unknown>>,
  signing: CallbackSigning,
): Record<string, unknown> {
  const given = { Timestamp: signing.timestamp, Nonce: signing.nonce, Signature: signing.signature };
  const out: Record<string, unknown> = { ...body };
  for (const [field, value] of Object.entries(signatureFields(signing))) {
    const key = keyOf(out, field);
    const old = out[key];
    const keepNumber = given[field as keyof SignatureFields] === undefined && field !== 'Signature';
    out[key] =
      keepNumber && (isLosslessNumber(old) || typeof old === 'number')
        ? new LosslessNumber(String(value))
        : value;
  }
  return out;
}

/** The body's key for `field` whatever its casing (ZEGO's and its samples' casings vary). */
export function keyOf(body: Record<string, unknown>, field: string): string {
  const lower = field.toLowerCase();
  return Object.keys(body).find((k) => k.toLowerCase() === lower) ?? field;
}
