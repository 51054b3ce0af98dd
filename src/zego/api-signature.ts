/**
 * ZEGO server API request signing, SignatureVersion 2.0 (shared doc §5):
 * `Signature = md5(AppId + SignatureNonce + ServerSecret + Timestamp)`, plain concatenation in that fixed
 * order, lowercase hex. Only these four values are signed; Action, SignatureVersion and the body are not.
 *
 * Not to be confused with the callback signature (signature.ts), which is SHA-1 over sorted values.
 */
import { createHash, randomBytes } from 'node:crypto';

/**
 * `timestamp` is Unix time in whole SECONDS (ZEGO rejects anything more than 10 minutes off with
 * 100000004). The nonce and timestamp signed here must be exactly the ones sent in the query.
 */
export function computeApiSignature(
  appId: string,
  signatureNonce: string,
  serverSecret: string,
  timestamp: number | string,
): string {
  // A fractional or unsafe number would be signed as e.g. "1.7e+21" or "1700000000.5", which ZEGO never accepts.
  if (typeof timestamp === 'number' && !Number.isSafeInteger(timestamp)) {
    throw new RangeError(`Timestamp must be whole Unix seconds; got ${timestamp}`);
  }
  return createHash('md5')
    .update(`${appId}${signatureNonce}${serverSecret}${timestamp}`, 'utf8')
    .digest('hex');
}

/** 16 lowercase hex chars from 8 random bytes, as §5 prescribes. Use a fresh one for every request. */
export function newSignatureNonce(): string {
  return randomBytes(8).toString('hex');
}
