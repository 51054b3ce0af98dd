/**
 * How ZEGO may send a callback body (shared doc §3, §9 #5): the inverse of decode.ts, used by the
 * traffic simulator, the CLI's `callbacks send` and the tests. JSON is written with lossless-json,
 * so a number kept as its source text (LosslessNumber) or a bigint keeps every digit.
 */
import { isLosslessNumber, stringify } from 'lossless-json';

export const BODY_ENCODINGS = ['json', 'urlencoded-json', 'form'] as const;
/** JSON; the whole JSON percent-encoded; or form fields (Form format, enabled by ZEGO support). */
export type BodyEncoding = (typeof BODY_ENCODINGS)[number];

export interface EncodedBody {
  body: string;
  contentType: string;
}

/** A form field's text: nested objects (Details) travel as JSON strings. */
function formText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object' && !isLosslessNumber(value)) return stringify(value) ?? '';
  return String(value);
}

export function encodeCallbackBody(
  fields: Record<string, unknown>,
  encoding: BodyEncoding,
  opts: { lowercaseFormKeys?: boolean } = {},
): EncodedBody {
  const json = stringify(fields) ?? '{}';
  switch (encoding) {
    case 'json':
      return { body: json, contentType: 'application/json' };
    case 'urlencoded-json':
      // encodeURIComponent, not form encoding: receivers percent-decode, where `+` stays `+`.
      return { body: encodeURIComponent(json), contentType: 'application/x-www-form-urlencoded' };
    case 'form': {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined)
          params.append(opts.lowercaseFormKeys ? key.toLowerCase() : key, formText(value));
      }
      return { body: params.toString(), contentType: 'application/x-www-form-urlencoded' };
    }
  }
}
