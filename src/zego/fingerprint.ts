/**
 * A callback's fingerprint: what it means, without how it was signed.
 *
 * ZEGO signs only CallbackSecret + Timestamp + Nonce, not the body (shared doc §4.1), so a captured
 * signature could carry another body. The service binds each (Timestamp, Nonce) to the fingerprint of the
 * first body seen with it: an exact retry fingerprints the same, a changed Event, TaskId, Status,
 * Sequence, StopReason or Details does not. Key order never matters; array order (Outputs) does.
 */
import { createHash } from 'node:crypto';
import type { TranscodeCallback } from './types';

/** Everything that is not a signature ingredient. */
type Meaning = Omit<TranscodeCallback, 'timestamp' | 'nonce'>;

export function callbackFingerprint(cb: TranscodeCallback): string {
  const meaning: Meaning = {
    event: cb.event,
    appId: cb.appId,
    taskId: cb.taskId,
    userId: cb.userId,
    sequence: cb.sequence,
    status: cb.status,
    stopReason: cb.stopReason,
    input: cb.input,
    outputs: cb.outputs,
  };
  return createHash('sha256').update(canonicalJson(meaning)).digest('hex');
}

/** JSON with object keys sorted at every level and undefined members left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}
