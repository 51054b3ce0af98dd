/**
 * ZEGO single-stream transcoding callbacks after decoding and validation.
 * Field names inside Details keep ZEGO's own casing (they are echoed in the state document).
 */

export type TranscodeEventName = 'transcode_start' | 'transcode_stop';

/** `Details.Input` of `transcode_start`. Every sub-field is optional (shared doc §9 #14). */
export interface TranscodeInput {
  StreamId?: string;
  StreamUrl?: string;
}

/** One entry of `Details.Outputs`. `0` means "same as input" for Width/Height/Fps/VideoBitrate. */
export interface TranscodeOutput {
  StreamId?: string;
  StreamUrl?: string;
  VideoEncId?: number;
  VideoBitrate?: number;
  ShortEdgeAdaption?: number;
  Fps?: number;
  Width?: number;
  Height?: number;
  GOP?: number;
}

/** A validated `transcode_start` or `transcode_stop` callback. */
export interface TranscodeCallback {
  event: TranscodeEventName;
  appId: string;
  taskId: string;
  /** '' when ZEGO left it out. */
  userId: string;
  /** ZEGO's `Sequence`; 0 when absent. */
  sequence: number;
  /** ZEGO's `Status` exactly as received ('' when absent). Logged, never routed on. */
  status: string;
  /** `transcode_stop` only: 0 = stopped by the user, anything else = stopped after an exception. */
  stopReason?: number;
  /** `Timestamp` exactly as received and signed (seconds, or milliseconds when >= 1e12). */
  timestamp: string;
  /** `Nonce` exactly as received and signed. */
  nonce: string;
  /** `transcode_start` only. */
  input?: TranscodeInput;
  /** `transcode_start` only; undefined when the callback carried no outputs. */
  outputs?: TranscodeOutput[];
}

/** Timestamp text → epoch milliseconds (values >= 1e12 are already ms). NaN when not a number. */
export function timestampToMs(timestamp: string): number {
  const n = Number(timestamp);
  if (!Number.isFinite(n)) return NaN;
  return n >= 1e12 ? Math.trunc(n) : Math.trunc(n * 1000);
}
