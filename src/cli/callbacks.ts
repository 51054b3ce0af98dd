/**
 * `callbacks send`: POSTs a recorded or hand-written ZEGO callback body to the service, (re)signed
 * with a fresh Timestamp and Nonce (ZEGO's SHA-1 scheme, src/zego/signature.ts) unless
 * `--keep-signature`, encoded as ZEGO may send it, and prints the service's answer.
 */
import { readFile } from 'node:fs/promises';
import { isLosslessNumber, parse } from 'lossless-json';
import { BODY_ENCODINGS, encodeCallbackBody, type BodyEncoding } from '../zego/encode';
import { keyOf, signCallbackBody } from '../zego/sign';
import {
  CliError,
  enc,
  EXIT_FAILURE,
  EXIT_OK,
  expectArgs,
  renderTable,
  replyError,
  formatDetails,
  printJson,
  serviceClient,
  stringOption,
  usageError,
  type Command,
  type CommandContext,
} from './common';

export const ENCODINGS = BODY_ENCODINGS;
export type Encoding = BodyEncoding;

type Body = Record<string, unknown>;

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

function parseJsonObject(text: string): Body | undefined {
  try {
    const value = parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A callback body from a file's text: JSON, URL-encoded JSON, or form fields (where a field holding
 * JSON, like Details, is parsed). Key casing and number texts are kept as they are.
 */
export function readCallbackBody(text: string): Body | undefined {
  const trimmed = text.trim();
  const json = parseJsonObject(trimmed);
  if (json) return json;
  if (/^%7b/i.test(trimmed)) {
    try {
      const decoded = parseJsonObject(decodeURIComponent(trimmed));
      if (decoded) return decoded;
    } catch {
      // not percent-encoded after all
    }
  }
  if (/^[^=&\s{}]+=/.test(trimmed)) {
    const body: Body = {};
    for (const [key, value] of new URLSearchParams(trimmed)) {
      body[key] = /^\s*[{[]/.test(value) ? (parseJsonObject(value) ?? value) : value;
    }
    return body;
  }
  return undefined;
}

function fieldText(body: Body, field: string): string | undefined {
  const value = body[keyOf(body, field)];
  if (typeof value === 'string') return value;
  if (isLosslessNumber(value) || typeof value === 'number') return String(value);
  return undefined;
}

/**
 * Sets a fresh Timestamp (now, seconds) and Nonce and their Signature, in place of the existing
 * fields (same key casing, a JSON number stays a number); other fields are untouched.
 */
export function resignCallback(body: Body, secret: string, nowMs = Date.now()): Body {
  return signCallbackBody(body, { secret, now: () => nowMs });
}

const send: Command = {
  name: 'callbacks send',
  summary: 'POST a recorded or hand-written callback body, freshly signed',
  help: `Usage: zego-transcode callbacks send <file.json | -> [--secret <secret>] [--encoding json|urlencoded-json|form]
                                  [--keep-signature] [--json] [--url <url>]

Reads a callback body (JSON, URL-encoded JSON or form fields; - reads stdin), sets a fresh
Timestamp (now) and Nonce and signs them with the callback secret (--secret, else the first of
ZEGO_CALLBACK_SECRET), then POSTs it to <url>/zego/callback and prints the answer.
--keep-signature sends Timestamp, Nonce and Signature as they are in the file (an old recording
is then refused as outside the skew window). Exit code 0 when the service answers 2xx, else 1.
`,
  options: {
    secret: { type: 'string' },
    encoding: { type: 'string' },
    'keep-signature': { type: 'boolean' },
  },
  async run(ctx: CommandContext) {
    const [file] = expectArgs(ctx, ['<file.json>']);
    const encoding = (stringOption(ctx.values, 'encoding') ?? 'json') as Encoding;
    if (!ENCODINGS.includes(encoding)) {
      throw usageError(`--encoding ${JSON.stringify(encoding)} is not one of ${ENCODINGS.join(', ')}`);
    }
    const keep = ctx.values['keep-signature'] === true;
    const secret =
      stringOption(ctx.values, 'secret') ?? ctx.io.env.ZEGO_CALLBACK_SECRET?.split(',')[0]?.trim();
    if (keep && ctx.values.secret !== undefined)
      throw usageError('--secret and --keep-signature exclude each other');
    if (!keep && !secret) {
      throw usageError(
        'callbacks send needs the callback secret: --secret <secret> or ZEGO_CALLBACK_SECRET',
        'or --keep-signature to send the file as it is',
      );
    }

    let text: string;
    try {
      text = file === '-' ? await ctx.io.readStdin() : await readFile(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const parsed = readCallbackBody(text);
    if (!parsed) {
      throw new CliError(`${file} holds no callback body (a JSON object, URL-encoded JSON or form fields)`);
    }
    const body = keep ? parsed : resignCallback(parsed, secret as string);
    const encoded = encodeCallbackBody(body, encoding);
    const client = serviceClient(ctx.values, ctx.io.env);
    const reply = await client.request('POST', '/zego/callback', encoded);
    const ok = reply.status >= 200 && reply.status < 300;
    const sent = {
      event: fieldText(body, 'Event'),
      appId: fieldText(body, 'Appid'),
      taskId: fieldText(body, 'TaskId'),
      sequence: fieldText(body, 'Sequence'),
      timestamp: fieldText(body, 'Timestamp'),
      nonce: fieldText(body, 'Nonce'),
      encoding,
    };
    if (ctx.json) {
      printJson(ctx.io, { status: reply.status, response: reply.body, sent });
    } else {
      const what = [sent.event, sent.appId && `app ${sent.appId}`, sent.taskId && `task ${sent.taskId}`]
        .concat(sent.sequence !== undefined ? [`sequence ${sent.sequence}`] : [])
        .filter(Boolean)
        .join(', ');
      const outcome =
        typeof reply.body.outcome === 'string'
          ? reply.body.outcome
          : typeof reply.body.error === 'string'
            ? reply.body.error
            : '';
      const details = formatDetails(reply.body.details);
      const line = `HTTP ${reply.status} ${outcome}${details ? ` (${details})` : ''} — ${what || 'callback'} as ${encoding}\n`;
      if (ok) ctx.io.stdout(line);
      else ctx.io.stderr(line);
    }
    return ok ? EXIT_OK : EXIT_FAILURE;
  },
};

interface LogEntry {
  id: string;
  status: string;
  appId: string;
  taskId: string;
  event: string;
  callbackStatus: string;
  sequence: number;
  receivedAt: string;
  deliveredAt: string | null;
  attempts: number;
  outcome: string | null;
  error: string | null;
}

const list: Command = {
  name: 'callbacks list',
  summary: 'the callback log: pending, delivered and rejected callbacks, newest first',
  help: `Usage: zego-transcode callbacks list [--status pending|delivered|rejected] [--app <appId>]
                                  [--task <taskId>] [--limit <n>] [--json] [--url <url>] [--token <t>]

Lists entries of the callback inbox (GET /callbacks), newest first: what was recorded, whether
Temporal has taken it (delivered), is still to take it (pending) or refused it for good (rejected,
with the error). --limit defaults to 100 (at most 1000).
`,
  options: {
    status: { type: 'string' },
    app: { type: 'string' },
    task: { type: 'string' },
    limit: { type: 'string' },
  },
  async run(ctx: CommandContext) {
    expectArgs(ctx, []);
    const query = new URLSearchParams();
    for (const [flag, param] of [
      ['status', 'status'],
      ['app', 'appId'],
      ['task', 'taskId'],
      ['limit', 'limit'],
    ] as const) {
      const value = stringOption(ctx.values, flag);
      if (value !== undefined) query.set(param, value);
    }
    const client = serviceClient(ctx.values, ctx.io.env);
    const reply = await client.get(`/callbacks${query.size ? `?${query}` : ''}`);
    if (reply.status !== 200) throw replyError(reply, 'callbacks list');
    const entries = (reply.body.callbacks ?? []) as LogEntry[];
    if (ctx.json) {
      printJson(ctx.io, entries);
      return EXIT_OK;
    }
    ctx.io.stdout(
      renderTable(
        [
          'ID',
          'STATUS',
          'EVENT',
          'SEQ',
          'APP',
          'TASK',
          'RECEIVED',
          'DELIVERED',
          'ATTEMPTS',
          'OUTCOME / ERROR',
        ],
        entries.map((e) => [
          e.id,
          e.status,
          e.event === 'transcode_start' ? e.callbackStatus || 'start' : 'stop',
          e.sequence,
          e.appId,
          e.taskId,
          e.receivedAt,
          e.deliveredAt,
          e.attempts,
          e.error ?? e.outcome,
        ]),
      ),
    );
    return EXIT_OK;
  },
};

const redeliver: Command = {
  name: 'callbacks redeliver',
  summary: 'hand one callback (or every rejected one) to Temporal again',
  help: `Usage: zego-transcode callbacks redeliver <id> [--json] [--url <url>] [--token <t>]
       zego-transcode callbacks redeliver --status rejected [--json]

Makes a callback log entry pending again (POST /callbacks/:id/redeliver), or every entry of a
status (POST /callbacks/redeliver?status=rejected); the relay hands them to Temporal at once. The
lifecycle counts a redelivered callback as one more delivery: nothing changes beyond that.
`,
  options: { status: { type: 'string' } },
  async run(ctx: CommandContext) {
    const status = stringOption(ctx.values, 'status');
    const client = serviceClient(ctx.values, ctx.io.env);
    if (status !== undefined) {
      expectArgs(ctx, []);
      const reply = await client.request('POST', `/callbacks/redeliver?status=${enc(status)}`);
      if (reply.status !== 200) throw replyError(reply, 'callbacks redeliver');
      if (ctx.json) printJson(ctx.io, reply.body);
      else
        ctx.io.stdout(`${String(reply.body.redelivered)} ${status} callback(s) handed back to the relay\n`);
      return EXIT_OK;
    }
    const [id] = expectArgs(ctx, ['<id>']);
    const reply = await client.request('POST', `/callbacks/${enc(id)}/redeliver`);
    if (reply.status !== 200) throw replyError(reply, `callbacks redeliver ${id}`);
    const entry = reply.body.callback as LogEntry;
    if (ctx.json) printJson(ctx.io, entry);
    else
      ctx.io.stdout(
        `callback ${entry.id} (${entry.event} Sequence ${entry.sequence} of task ${entry.taskId}) is ${entry.status}\n`,
      );
    return EXIT_OK;
  },
};

export const callbackCommands: Command[] = [send, list, redeliver];
