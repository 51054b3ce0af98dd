/**
 * Builds correctly signed ZEGO transcoding callbacks for tests and the benchmarks (like stripe's
 * generateTestHeaderString).
 *
 *   const cb = transcodeStart({ TaskId: 'task-1' }, { secret, timestamp: '1700000000' });
 *   const { body, contentType } = encodeCallback(cb, 'form');
 *   await fetch(url, { method: 'POST', body, headers: { 'content-type': contentType } });
 *
 * Bodies use ZEGO's own field names (Event, Appid, Timestamp, Nonce, Signature, TaskId, UserId, Sequence,
 * Status, StopReason, Details{Input,Outputs}). An override set to `undefined` removes that field (also
 * Timestamp/Nonce/Signature); Timestamp/Nonce given as overrides are signed; a Signature override replaces
 * the computed one.
 */
import { randomInt } from 'node:crypto';
import { encodeCallbackBody } from '../../src/zego/encode';
import { signCallbackBody, type CallbackSigning } from '../../src/zego/sign';

export const TEST_CALLBACK_SECRET = 'test-callback-secret';

/** A callback body as ZEGO would send it, before encoding. */
export type ZegoCallbackBody = Record<string, unknown>;

/** How to sign (src/zego/sign.ts); the secret defaults to TEST_CALLBACK_SECRET. */
export type SignOptions = Omit<CallbackSigning, 'secret'> & { secret?: string };

export type BodyForm = 'json' | 'urlencoded-json' | 'form' | 'form-lowercase';

/** A signed `transcode_start` (Status TranscodeStarted, one 1280×720 output unless overridden). */
export function transcodeStart(overrides: ZegoCallbackBody = {}, sign: SignOptions = {}): ZegoCallbackBody {
  return build(
    {
      Event: 'transcode_start',
      Status: 'TranscodeStarted',
      Details: {
        Input: { StreamId: 'input-stream' },
        Outputs: [
          {
            StreamId: 'output-stream',
            VideoEncId: 0,
            Fps: 0,
            ShortEdgeAdaption: 0,
            Width: 1280,
            Height: 720,
            VideoBitrate: 0,
            GOP: 2,
          },
        ],
      },
    },
    overrides,
    sign,
  );
}

/** A signed `transcode_stop` (Status TranscodeStopped, StopReason 0 unless overridden). */
export function transcodeStop(overrides: ZegoCallbackBody = {}, sign: SignOptions = {}): ZegoCallbackBody {
  return build({ Event: 'transcode_stop', Status: 'TranscodeStopped', StopReason: 0 }, overrides, sign);
}

/** (Re)signs any body: sets Timestamp, Nonce and Signature; other fields are kept as they are. */
export function signCallback(body: ZegoCallbackBody, sign: SignOptions = {}): ZegoCallbackBody {
  return signCallbackBody(body, { ...sign, secret: sign.secret ?? TEST_CALLBACK_SECRET });
}

/**
 * Encodes a body the ways ZEGO may send it:
 * - `json`: JSON, `application/json` (bigints are written as JSON numbers with every digit);
 * - `urlencoded-json`: the whole JSON percent-encoded (encodeURIComponent), `application/x-www-form-urlencoded`;
 * - `form`: form fields with ZEGO's key casing, objects (Details) as JSON strings;
 * - `form-lowercase`: the same with lowercased keys, as ZEGO's PHP/Java samples read them.
 */
export function encodeCallback(
  obj: ZegoCallbackBody,
  form: BodyForm = 'json',
): { body: string; contentType: string } {
  return form === 'form-lowercase'
    ? encodeCallbackBody(obj, 'form', { lowercaseFormKeys: true })
    : encodeCallbackBody(obj, form);
}

function build(defaults: ZegoCallbackBody, overrides: ZegoCallbackBody, sign: SignOptions): ZegoCallbackBody {
  // ZEGO's documented field order, so a JSON body looks like the doc's example.
  const body: ZegoCallbackBody = {
    Event: defaults.Event,
    Appid: '111111',
    Timestamp: undefined,
    Nonce: undefined,
    Signature: undefined,
    TaskId: `task-${randomInt(1e9)}`,
    UserId: 'user-1',
    Sequence: 0,
    ...defaults,
    ...overrides,
  };
  const signed = signCallback(body, {
    ...sign,
    timestamp: sign.timestamp ?? (overrides.Timestamp as string | number | undefined),
    nonce: sign.nonce ?? (overrides.Nonce as string | number | bigint | undefined),
  });
  // An explicit Signature override wins; an override set to undefined removes the field, signed ones too.
  if ('Signature' in overrides) signed.Signature = overrides.Signature;
  for (const [key, value] of Object.entries(overrides)) if (value === undefined) delete signed[key];
  return signed;
}
