/**
 * A local stand-in for ZEGO's server API (shared doc §5, §6, §8) on 127.0.0.1, for tests and simulators.
 *
 *   const zego = await startFakeZegoApi({ appId: '1234567890', serverSecret: 'test-server-secret' });
 *   const client = new ZegoApiClient({ appId: '1234567890', serverSecret: 'test-server-secret', baseUrl: zego.url });
 *   zego.failNext(1, { code: 110200194 });   // the next request answers "overload"
 *   ...
 *   await zego.close();
 *
 * Like ZEGO it answers HTTP 200 with `{Code, Message, RequestId}` for every API-level outcome, checks the
 * common query parameters and the MD5 signature (±10 min on Timestamp), validates the body, and keeps the
 * running TaskIds in memory. Every request is recorded, including rejected and scripted ones.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { computeApiSignature } from '../../src/zego/api-signature';

export interface RecordedRequest {
  method: string;
  /** The `Action` query parameter, null when absent. */
  action: string | null;
  query: Record<string, string>;
  /** Parsed JSON body; undefined when empty or not JSON (see rawBody). */
  body: unknown;
  rawBody: string;
  /** Epoch ms when the request arrived (before its body was read). */
  time: number;
  /** What the fake answered; set once the answer is sent. */
  response?: { httpStatus: number; code: number | null };
}

export interface FakeTranscodeTask {
  TaskId: string;
  UserId: string;
  Sequence?: number;
  /** The last StartCloudTranscode body for this task; absent for a TaskId put into `running` by a test. */
  start?: Record<string, unknown>;
}

export interface FakeFailure {
  /** Answer with this ZEGO Code (HTTP 200 unless httpStatus is given too). */
  code?: number;
  /** Answer with this HTTP status (body: the envelope if `code` is given, else a plain-text page). */
  httpStatus?: number;
  /** Wait this long first; on its own, the request is then handled normally. */
  delayMs?: number;
}

export interface FakeZegoApiOptions {
  appId: string;
  serverSecret: string;
  /** Epoch ms for the ±10 min Timestamp rule. Default Date.now. */
  now?: () => number;
  /** Called when a running task is stopped, e.g. to POST a signed transcode_stop callback. */
  onStop?: (task: FakeTranscodeTask) => void;
}

export interface FakeZegoApi {
  /** Base URL for ZegoApiClient, e.g. http://127.0.0.1:54321 */
  url: string;
  requests: RecordedRequest[];
  /** TaskIds of running tasks; tests may add to it to simulate tasks started elsewhere. */
  running: Set<string>;
  /** Details of tasks started through the fake, by TaskId. */
  tasks: Map<string, FakeTranscodeTask>;
  /** The next `n` requests fail (or are delayed) as described; calls queue up in order. */
  failNext(n: number, how: FakeFailure): void;
  close(): Promise<void>;
}

const MAX_SKEW_S = 600;
const SUPPORTED_ACTIONS = new Set(['StartCloudTranscode', 'StopCloudTranscode']);

type Outcome = [code: number, message: string];
const OK: Outcome = [0, 'success'];

export async function startFakeZegoApi(opts: FakeZegoApiOptions): Promise<FakeZegoApi> {
  const now = opts.now ?? Date.now;
  const requests: RecordedRequest[] = [];
  const running = new Set<string>();
  const tasks = new Map<string, FakeTranscodeTask>();
  const scripted: FakeFailure[] = [];
  const delays = new Set<NodeJS.Timeout>();
  let requestSeq = 0n;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        delays.delete(timer);
        resolve();
      }, ms);
      delays.add(timer);
    });

  function send(
    req: IncomingMessage,
    res: ServerResponse,
    record: RecordedRequest,
    httpStatus: number,
    code: number | null,
    message: string,
  ): void {
    if (res.destroyed || req.socket.destroyed) return; // the client gave up (e.g. its timeout)
    record.response = { httpStatus, code };
    if (code === null) {
      res.writeHead(httpStatus, { 'content-type': 'text/plain' }).end(message);
      return;
    }
    requestSeq += 1n;
    const RequestId = (8_000_000_000_000_000_000n + requestSeq).toString();
    res
      .writeHead(httpStatus, { 'content-type': 'application/json' })
      .end(JSON.stringify({ Code: code, Message: message, RequestId }));
  }

  function checkQuery(query: Record<string, string>): Outcome | null {
    const { Action, AppId, SignatureNonce, Timestamp, Signature, SignatureVersion } = query;
    if (!Action) return [100000006, 'Action is empty'];
    if (!AppId || !/^\d+$/.test(AppId)) return [100000001, 'AppId format error'];
    if (AppId !== opts.appId) return [100000010, 'failed to get ServerSecret, check AppId'];
    if (!Timestamp) return [100000002, 'Timestamp is empty'];
    if (!/^\d+$/.test(Timestamp)) return [100000003, 'Timestamp format error, must be Unix seconds'];
    if (!SignatureNonce) return [100000008, 'SignatureNonce is empty'];
    if (!Signature) return [100000009, 'Signature is empty'];
    if (!SignatureVersion) return [100000013, 'SignatureVersion is empty'];
    if (SignatureVersion !== '2.0') return [100000014, `unsupported SignatureVersion ${SignatureVersion}`];
    if (Signature !== computeApiSignature(opts.appId, SignatureNonce, opts.serverSecret, Timestamp)) {
      return [100000005, 'signature error'];
    }
    if (Math.abs(Math.floor(now() / 1000) - Number(Timestamp)) > MAX_SKEW_S) {
      return [100000004, 'signature expired'];
    }
    if (!SUPPORTED_ACTIONS.has(Action)) return [100000007, `unsupported Action ${Action}`];
    return null;
  }

  function start(body: Record<string, unknown>): Outcome {
    const common = checkTaskAndUser(body);
    if (common) return common;
    const { TaskId, UserId, Sequence, TranscodeInput, TranscodeOutput } = body as {
      TaskId: string;
      UserId: string;
      Sequence?: number;
      TranscodeInput: unknown;
      TranscodeOutput: unknown;
    };
    const inputProblem = streamRefProblem(TranscodeInput, 'TranscodeInput');
    if (inputProblem) return [110200002, inputProblem];
    if (!Array.isArray(TranscodeOutput) || TranscodeOutput.length === 0) {
      return [110200002, 'TranscodeOutput must be a non-empty array'];
    }
    for (const [i, output] of TranscodeOutput.entries()) {
      const problem = streamRefProblem(output, `TranscodeOutput[${i}]`);
      if (problem) return [110200002, problem];
      const templateId = (output as Record<string, unknown>).TemplateId;
      if (!Number.isInteger(templateId) || (templateId as number) < 0 || (templateId as number) > 4) {
        return [110200002, `TranscodeOutput[${i}].TemplateId must be one of 0, 1, 2, 3, 4`];
      }
    }
    const existing = tasks.get(TaskId);
    if (existing && existing.UserId !== UserId) {
      return [110200002, 'UserId must be the same for every call on one TaskId'];
    }
    tasks.set(TaskId, { TaskId, UserId, Sequence, start: body });
    running.add(TaskId);
    return OK;
  }

  function stop(body: Record<string, unknown>): Outcome {
    const common = checkTaskAndUser(body);
    if (common) return common;
    const { TaskId, UserId, Sequence } = body as { TaskId: string; UserId: string; Sequence?: number };
    if (!running.has(TaskId)) return [110209001, 'task does not exist'];
    const known = tasks.get(TaskId);
    if (known && known.UserId !== UserId)
      return [110200160, 'only the UserId that started the task may stop it'];
    running.delete(TaskId);
    tasks.delete(TaskId);
    opts.onStop?.({ ...known, TaskId, UserId, Sequence: Sequence ?? known?.Sequence });
    return OK;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const time = Date.now();
    const rawBody = await readBody(req);
    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://fake').searchParams);
    let body: unknown;
    let bodyIsJson = true;
    try {
      body = rawBody === '' ? undefined : JSON.parse(rawBody);
    } catch {
      bodyIsJson = false;
    }
    const record: RecordedRequest = {
      method: req.method ?? '',
      action: query.Action ?? null,
      query,
      body,
      rawBody,
      time,
    };
    requests.push(record);

    const failure = scripted.shift();
    if (failure?.delayMs) await sleep(failure.delayMs);
    if (failure?.httpStatus !== undefined) {
      return failure.code === undefined
        ? send(req, res, record, failure.httpStatus, null, `HTTP ${failure.httpStatus} (scripted)`)
        : send(req, res, record, failure.httpStatus, failure.code, 'scripted failure');
    }
    if (failure?.code !== undefined) return send(req, res, record, 200, failure.code, 'scripted failure');

    if (req.method !== 'POST') return send(req, res, record, 405, null, 'Method Not Allowed');
    const [code, message] = route(query, body, bodyIsJson);
    send(req, res, record, 200, code, message);
  }

  function route(query: Record<string, string>, body: unknown, bodyIsJson: boolean): Outcome {
    const rejected = checkQuery(query);
    if (rejected) return rejected;
    if (!bodyIsJson) return [110200004, 'could not parse the request body as JSON'];
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return [110200002, 'the request body must be a JSON object'];
    }
    const fields = body as Record<string, unknown>;
    return query.Action === 'StartCloudTranscode' ? start(fields) : stop(fields);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`fake ZEGO API error: ${String(err)}`);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    running,
    tasks,
    failNext(n, how) {
      for (let i = 0; i < n; i++) scripted.push({ ...how });
    },
    close() {
      for (const timer of delays) clearTimeout(timer);
      delays.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

function checkTaskAndUser(body: Record<string, unknown>): Outcome | null {
  for (const field of ['TaskId', 'UserId'] as const) {
    const value = body[field];
    if (typeof value !== 'string' || value === '')
      return [110200002, `${field} is required (a non-empty string)`];
  }
  if (body.Sequence !== undefined && !Number.isInteger(body.Sequence)) {
    return [110200002, 'Sequence must be an integer'];
  }
  return null;
}

/** Input and each output need a StreamId or a StreamUrl (ZEGO uses StreamUrl if both are given). */
function streamRefProblem(ref: unknown, where: string): string | null {
  if (typeof ref !== 'object' || ref === null) return `${where} is required (an object)`;
  const { StreamId, StreamUrl } = ref as Record<string, unknown>;
  const hasId = typeof StreamId === 'string' && StreamId !== '';
  const hasUrl = typeof StreamUrl === 'string' && StreamUrl !== '';
  if (!hasId && !hasUrl) return `${where} needs StreamId or StreamUrl`;
  if (hasId && !/^[A-Za-z0-9_-]+$/.test(StreamId as string)) {
    return `${where}.StreamId may contain only digits, letters, - and _`;
  }
  return null;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
