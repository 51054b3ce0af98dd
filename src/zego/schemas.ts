/**
 * zod schemas for `transcode_start` and `transcode_stop` over the decoded (lowercased) callback object.
 *
 * Deliberately tolerant of what ZEGO's docs get wrong or leave open (shared doc §9): every scalar may be a
 * string or a number, `Status` is only recorded (the stop example says `TranscodeStarted`), unknown keys
 * and unknown Status values pass, every Details sub-field is optional. Strict only where the service
 * cannot work without a value: Appid, TaskId, Timestamp, Nonce, Signature, and integer Sequence/StopReason.
 * Errors name every broken field in ZEGO's own spelling, e.g. `Details.Outputs[0].Width`.
 */
import { z } from 'zod';
import { decodeJsonText, isDecodedObject, JsonNumber, scalarText, type DecodedObject } from './decode';
import {
  appIdProblem,
  NONCE_MAX_CHARS,
  TASK_ID_MAX_CHARS,
  tooLong,
  unstorableText,
  USER_ID_MAX_CHARS,
} from './limits';
import type { TranscodeCallback, TranscodeEventName, TranscodeInput, TranscodeOutput } from './types';

export interface FieldError {
  /** ZEGO's field name, with a path for nested fields: `Sequence`, `Details.Outputs[0].Width`. */
  field: string;
  message: string;
}

export type ParseResult = { ok: true; callback: TranscodeCallback } | { ok: false; errors: FieldError[] };

/** Lowercased key → ZEGO's spelling, for error paths and for the Details objects we hand on. */
const ZEGO_NAMES: Readonly<Record<string, string>> = {
  event: 'Event',
  appid: 'Appid',
  timestamp: 'Timestamp',
  nonce: 'Nonce',
  signature: 'Signature',
  taskid: 'TaskId',
  userid: 'UserId',
  sequence: 'Sequence',
  status: 'Status',
  stopreason: 'StopReason',
  details: 'Details',
  input: 'Input',
  outputs: 'Outputs',
  streamid: 'StreamId',
  streamurl: 'StreamUrl',
  videoencid: 'VideoEncId',
  videobitrate: 'VideoBitrate',
  shortedgeadaption: 'ShortEdgeAdaption',
  fps: 'Fps',
  width: 'Width',
  height: 'Height',
  gop: 'GOP',
};

type Check<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * One field checked by a plain function, so every message is ours and says what was received. A bare
 * transform is already optional-in (an absent key reaches `check` as undefined), so it needs no
 * z.unknown().optional() pipe in front, which cost three more schema runs per field.
 */
function field<T>(check: (value: unknown) => Check<T>) {
  return z.transform((value: unknown, ctx): T => {
    const result = check(value);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  });
}

/** JSON null and an empty form value mean "not sent". */
function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function requiredText(value: unknown): Check<string> {
  if (isAbsent(value)) return { ok: false, message: 'is required' };
  const text = scalarText(value);
  if (text === undefined) return { ok: false, message: `must be a string, got ${received(value)}` };
  const unstorable = unstorableText(text);
  return unstorable ? { ok: false, message: unstorable } : { ok: true, value: text };
}

/** A text check followed by `problem` (a limit, a format): src/zego/limits.ts. */
function textWith<T extends string | undefined>(
  base: (value: unknown) => Check<T>,
  problem: (text: string) => string | undefined,
) {
  return (value: unknown): Check<T> => {
    const result = base(value);
    if (!result.ok || result.value === undefined) return result;
    const message = problem(result.value);
    return message ? { ok: false, message } : result;
  };
}

const IN_WORKFLOW_ID = 'it is part of the workflow ID and a search attribute';

function optionalText(value: unknown): Check<string | undefined> {
  if (isAbsent(value)) return { ok: true, value: undefined };
  return requiredText(value);
}

const NUMERIC_TEXT = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** An integer sent as a JSON number or as numeric text ("0", "1280"); `1e3` and `5.0` are integers too. */
function integer(opts: { min?: number }) {
  const expected = opts.min === 0 ? 'a non-negative integer' : 'an integer';
  return (value: unknown): Check<number | undefined> => {
    if (isAbsent(value)) return { ok: true, value: undefined };
    const text = scalarText(value);
    if (text === undefined || !NUMERIC_TEXT.test(text)) {
      return { ok: false, message: `must be ${expected}, got ${received(value)}` };
    }
    const n = Number(text);
    if (!Number.isSafeInteger(n) || (opts.min !== undefined && n < opts.min)) {
      return { ok: false, message: `must be ${expected}, got ${received(value)}` };
    }
    return { ok: true, value: n === 0 ? 0 : n }; // no -0
  };
}

function withDefault<T>(check: (value: unknown) => Check<T | undefined>, fallback: T) {
  return (value: unknown): Check<T> => {
    const result = check(value);
    return result.ok ? { ok: true, value: result.value ?? fallback } : result;
  };
}

/** Routing is case-insensitive, so the schema accepts the same spellings the router does. */
function eventNamed(name: TranscodeEventName) {
  return (value: unknown): Check<TranscodeEventName> => {
    const text = requiredText(value);
    if (!text.ok) return text;
    return text.value.trim().toLowerCase() === name
      ? { ok: true, value: name }
      : { ok: false, message: `must be "${name}", got ${received(value)}` };
  };
}

/**
 * A nested object that may be absent, and may arrive as a JSON string (form bodies, or a sender that
 * double-encodes). A string that is not valid JSON is reported as not an object.
 */
function optionalObject<S extends z.core.$ZodLooseShape>(shape: S) {
  // The type check lives in the preprocess step: a z.custom(…).pipe(…) after it cost two more schema runs.
  return z.preprocess((value, ctx) => {
    const parsed = isAbsent(value) ? undefined : typeof value === 'string' ? jsonOrSelf(value) : value;
    if (parsed === undefined || isDecodedObject(parsed)) return parsed;
    ctx.addIssue({ code: 'custom', message: 'must be an object' });
    return z.NEVER;
  }, z.object(shape).optional());
}

/** Outputs is documented as an array; a lone object is read as a one-element list. */
function optionalArrayOf<T extends z.ZodType>(item: T) {
  return z.preprocess((value, ctx) => {
    if (isAbsent(value)) return undefined;
    const parsed = typeof value === 'string' ? jsonOrSelf(value) : value;
    if (isDecodedObject(parsed)) return [parsed];
    if (Array.isArray(parsed)) return parsed;
    ctx.addIssue({ code: 'custom', message: 'must be an array' });
    return z.NEVER;
  }, z.array(item).optional());
}

function jsonOrSelf(text: string): unknown {
  const parsed = decodeJsonText(text.trim());
  return parsed.ok ? parsed.value : text;
}

const uint = field(integer({ min: 0 }));
const text = field(optionalText);

const inputShape = { streamid: text, streamurl: text };

const outputShape = {
  streamid: text,
  streamurl: text,
  videoencid: uint,
  videobitrate: uint,
  shortedgeadaption: uint,
  fps: uint,
  width: uint,
  height: uint,
  gop: uint,
};

const outputItem = z
  .custom<Record<string, unknown>>(isDecodedObject, 'must be an object')
  .pipe(z.object(outputShape));

const detailsShape = {
  input: optionalObject(inputShape),
  outputs: optionalArrayOf(outputItem),
};

/** Fields both events share, in the order ZEGO's tables list them (so errors come out in that order). */
function commonShape(name: TranscodeEventName) {
  return {
    event: field(eventNamed(name)),
    appid: field(textWith(requiredText, appIdProblem)),
    timestamp: field(requiredText),
    nonce: field(textWith(requiredText, (t) => tooLong(t, NONCE_MAX_CHARS, 'ZEGO sends a random number'))),
    signature: field(requiredText),
    taskid: field(textWith(requiredText, (t) => tooLong(t, TASK_ID_MAX_CHARS, IN_WORKFLOW_ID))),
    userid: field(
      withDefault(
        textWith(optionalText, (t) => tooLong(t, USER_ID_MAX_CHARS, 'it is a search attribute')),
        '',
      ),
    ),
    sequence: field(withDefault(integer({ min: 0 }), 0)),
    status: field(withDefault(optionalText, '')),
  };
}

export const transcodeStartSchema = z
  .object({ ...commonShape('transcode_start'), details: optionalObject(detailsShape) })
  .transform((cb): TranscodeCallback => {
    const callback = baseCallback(cb);
    const input = cb.details?.input && toInput(cb.details.input);
    const outputs = cb.details?.outputs?.map(toOutput);
    if (input) callback.input = input;
    if (outputs) callback.outputs = outputs;
    return callback;
  });

/** No Details are documented for stop, so any that arrive are ignored rather than validated. */
export const transcodeStopSchema = z
  .object({ ...commonShape('transcode_stop'), stopreason: field(withDefault(integer({}), 0)) })
  .transform((cb): TranscodeCallback => ({ ...baseCallback(cb), stopReason: cb.stopreason }));

type CommonFields = z.output<ReturnType<typeof z.object<ReturnType<typeof commonShape>>>>;

function baseCallback(cb: CommonFields): TranscodeCallback {
  return {
    event: cb.event,
    appId: cb.appid,
    taskId: cb.taskid,
    userId: cb.userid,
    sequence: cb.sequence,
    status: cb.status,
    timestamp: cb.timestamp,
    nonce: cb.nonce,
  };
}

/**
 * Back to ZEGO's casing (StreamId, VideoEncId, GOP…), leaving out fields that were not sent, in the
 * shapes' key order. Spelled out: a loop over the keys with computed names cost more than the schema.
 */
function toInput(o: Record<string, unknown>): TranscodeInput {
  const out: Record<string, unknown> = {};
  if (o.streamid !== undefined) out.StreamId = o.streamid;
  if (o.streamurl !== undefined) out.StreamUrl = o.streamurl;
  return out;
}

function toOutput(o: Record<string, unknown>): TranscodeOutput {
  const out: Record<string, unknown> = {};
  if (o.streamid !== undefined) out.StreamId = o.streamid;
  if (o.streamurl !== undefined) out.StreamUrl = o.streamurl;
  if (o.videoencid !== undefined) out.VideoEncId = o.videoencid;
  if (o.videobitrate !== undefined) out.VideoBitrate = o.videobitrate;
  if (o.shortedgeadaption !== undefined) out.ShortEdgeAdaption = o.shortedgeadaption;
  if (o.fps !== undefined) out.Fps = o.fps;
  if (o.width !== undefined) out.Width = o.width;
  if (o.height !== undefined) out.Height = o.height;
  if (o.gop !== undefined) out.GOP = o.gop;
  return out;
}

/** Validates a decoded callback as the given event. Never throws. */
export function parseTranscodeCallback(event: TranscodeEventName, decoded: DecodedObject): ParseResult {
  const schema = event === 'transcode_start' ? transcodeStartSchema : transcodeStopSchema;
  const result = schema.safeParse(decoded);
  if (result.success) return { ok: true, callback: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((issue) => ({
      field: zegoFieldPath(issue.path),
      message: issue.message,
    })),
  };
}

/** ['details', 'outputs', 0, 'width'] → 'Details.Outputs[0].Width'. */
export function zegoFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += `${out ? '.' : ''}${ZEGO_NAMES[String(part)] ?? String(part)}`;
  }
  return out;
}

/** What was received, short and safe to return to the caller (the body is already signed by ZEGO). */
function received(value: unknown): string {
  if (value instanceof JsonNumber) return clip(value.text);
  if (typeof value === 'string') return JSON.stringify(clip(value));
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
