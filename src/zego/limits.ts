/**
 * How long a callback's identifiers may be, and what characters no field may hold, derived from
 * where they go (contract v2, "Identifiers"):
 *
 * - The workflow ID `zego-transcode:<Appid>:<TaskId>` and every search attribute value
 *   (ZegoAppId, ZegoTaskId, ZegoUserId) end up in Temporal's visibility store. On SQL visibility
 *   (PostgreSQL, MySQL) `workflow_id` and the Keyword columns are VARCHAR(255): the tightest limit
 *   of every Temporal backend (the frontend's own `limit.maxIDLength` is 1,000 bytes, the
 *   search-attribute value limit 2 KiB). So the workflow ID stays within 255 characters, which
 *   leaves the TaskId 255 − 15 (prefix and colon) − 10 (Appid) − 1 (colon) = 229.
 * - PostgreSQL text cannot hold NUL (U+0000), and an unpaired UTF-16 surrogate has no UTF-8
 *   encoding (PostgreSQL, protobuf): a field holding either could be acknowledged but never stored
 *   or signalled. They are refused in every text field, at the door.
 * - ZEGO's AppID is a 32-bit unsigned number (the console shows it, its APIs take an integer): 1–10
 *   digits. That also makes (Appid, TaskId) → workflow ID injective: the Appid holds no colon.
 */

/** What Temporal's SQL visibility stores at most in `workflow_id` and a Keyword attribute (characters). */
export const VISIBILITY_KEYWORD_MAX_CHARS = 255;
export const APP_ID_MAX_DIGITS = 10;
/** `zego-transcode:` + `:`, i.e. WORKFLOW_ID_PREFIX and both separators. */
const WORKFLOW_ID_OVERHEAD = 'zego-transcode:'.length + 1;
export const TASK_ID_MAX_CHARS = VISIBILITY_KEYWORD_MAX_CHARS - WORKFLOW_ID_OVERHEAD - APP_ID_MAX_DIGITS;
export const USER_ID_MAX_CHARS = VISIBILITY_KEYWORD_MAX_CHARS;
/** Nonce and Timestamp form the nonce binding's key (a btree index entry): ZEGO sends ~19 digits. */
export const NONCE_MAX_CHARS = 128;

const APP_ID = new RegExp(`^\\d{1,${APP_ID_MAX_DIGITS}}$`);

/** Why `text` cannot be stored or signalled, or undefined when it can. */
export function unstorableText(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return 'must not contain a NUL character (U+0000)';
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return 'must be valid Unicode (it holds an unpaired surrogate)';
    }
    if (c >= 0xdc00 && c <= 0xdfff) return 'must be valid Unicode (it holds an unpaired surrogate)';
  }
  return undefined;
}

export function appIdProblem(appId: string): string | undefined {
  return APP_ID.test(appId) ? undefined : `must be ZEGO's numeric AppID (1–${APP_ID_MAX_DIGITS} digits)`;
}

/** Characters as Temporal's SQL visibility counts them (code points, not UTF-16 units). */
export function charLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    n++;
  }
  return n;
}

export function tooLong(text: string, max: number, why: string): string | undefined {
  const n = charLength(text);
  return n > max ? `is ${n} characters long; at most ${max} (${why})` : undefined;
}
