/**
 * Client for ZEGO's server API (shared doc §5, §6): StartCloudTranscode / StopCloudTranscode.
 *
 * Every request is POST `<baseUrl>/?Action=…&AppId=…&SignatureNonce=…&Timestamp=…&Signature=…&SignatureVersion=2.0`
 * with the business parameters as a JSON body, signed with a fresh nonce and timestamp, so a caller's
 * retry is always re-signed. The client does not retry by itself: it throws a ZegoApiError whose
 * `retryable` says whether the same call may succeed later, and leaves the retry policy to the caller
 * (e.g. a Temporal activity). Calls are spaced so they never exceed `maxRequestsPerSecond`.
 */
import { computeApiSignature, newSignatureNonce } from './api-signature';

/** §5 endpoint hosts. ZEGO recommends the host of the region your server is in. */
export const REGION_HOSTS = {
  unified: 'rtc-api.zego.im',
  sha: 'rtc-api-sha.zego.im',
  hkg: 'rtc-api-hkg.zego.im',
  fra: 'rtc-api-fra.zego.im',
  lax: 'rtc-api-lax.zego.im',
  bom: 'rtc-api-bom.zego.im',
  sgp: 'rtc-api-sgp.zego.im',
} as const;

export type ZegoRegion = keyof typeof REGION_HOSTS;

export const DEFAULT_ZEGO_API_BASE_URL = `https://${REGION_HOSTS.unified}`;

/** `https://<host>` for a region name from REGION_HOSTS (case-insensitive). */
export function baseUrlForRegion(region: string): string {
  const key = region.trim().toLowerCase();
  if (!Object.hasOwn(REGION_HOSTS, key)) {
    throw new RangeError(
      `Unknown ZEGO API region ${JSON.stringify(region)}; expected one of ${Object.keys(REGION_HOSTS).join(', ')}`,
    );
  }
  return `https://${REGION_HOSTS[key as ZegoRegion]}`;
}

/** ZEGO documents 100 requests/second per transcode API (§6). */
export const ZEGO_MAX_REQUESTS_PER_SECOND = 100;
const DEFAULT_MAX_REQUESTS_PER_SECOND = 50;
const DEFAULT_TIMEOUT_MS = 10_000;

export const ZEGO_CODE_TASK_NOT_FOUND = 110209001;

/**
 * §8 codes: meaning and whether the same call may succeed later. A code not listed here is treated as
 * not retryable: an unknown failure is more likely a request or configuration problem than a transient one.
 */
export const ZEGO_ERROR_CODES: Readonly<Record<number, { meaning: string; retryable: boolean }>> = {
  100000000: { meaning: 'bad Host in request header', retryable: false },
  100000001: { meaning: 'AppId format error', retryable: false },
  100000002: { meaning: 'Timestamp empty', retryable: false },
  100000003: { meaning: 'Timestamp format error', retryable: false },
  // Re-signing with a fresh timestamp fixes it, unless the local clock is more than 10 minutes off.
  100000004: { meaning: 'signature expired', retryable: true },
  100000005: { meaning: 'signature error (check AppId and ServerSecret)', retryable: false },
  100000006: { meaning: 'Action empty', retryable: false },
  100000007: { meaning: 'unsupported Action', retryable: false },
  100000008: { meaning: 'SignatureNonce empty', retryable: false },
  100000009: { meaning: 'Signature empty', retryable: false },
  100000010: { meaning: 'failed to get ServerSecret (check AppId)', retryable: false },
  100000011: { meaning: 'failed to get App config', retryable: false },
  100000013: { meaning: 'SignatureVersion empty', retryable: false },
  100000014: { meaning: 'unsupported SignatureVersion', retryable: false },
  100000015: { meaning: 'gateway internal error', retryable: true },
  100000016: { meaning: 'App not configured for production (check IsTest)', retryable: false },
  100000017: { meaning: 'App has not enabled this service', retryable: false },
  110200001: { meaning: 'failed (retry)', retryable: true },
  110200002: { meaning: 'input parameter error', retryable: false },
  110200003: { meaning: 'authentication failed', retryable: false },
  110200004: { meaning: 'could not parse input parameters', retryable: false },
  110200005: { meaning: 'could not acquire the distributed lock on start', retryable: true },
  110200006: { meaning: 'could not acquire the distributed lock on stop', retryable: true },
  110200150: { meaning: 'input stream does not exist', retryable: false },
  110200151: { meaning: 'transcoding task failed (retry)', retryable: true },
  110200157: { meaning: 'Stream Mixing permission not enabled', retryable: false },
  110200160: { meaning: 'only the task owner (UserId) may stop it', retryable: false },
  110200161: { meaning: 'output width outside [0, 3000]', retryable: false },
  110200175: { meaning: 'duplicate input stream', retryable: false },
  110200176: { meaning: 'duplicate output stream', retryable: false },
  110200178: { meaning: 'too many outputs', retryable: false },
  110200190: { meaning: 'start request overload', retryable: true },
  110200191: { meaning: 'stop request overload', retryable: true },
  110200194: { meaning: 'request overload', retryable: true },
  [ZEGO_CODE_TASK_NOT_FOUND]: { meaning: 'task does not exist', retryable: false },
};

export function isRetryableZegoCode(code: number): boolean {
  return ZEGO_ERROR_CODES[code]?.retryable ?? false;
}

export type ZegoApiAction = 'StartCloudTranscode' | 'StopCloudTranscode';

/**
 * - `api`: ZEGO answered with a non-zero Code (`code` is set);
 * - `http`: a non-2xx HTTP status (`httpStatus` is set; `code` too if the body was ZEGO's envelope);
 * - `network` / `timeout`: no answer (always retryable);
 * - `invalid_response`: a 2xx whose body is not ZEGO's envelope (wrong baseUrl or a proxy page);
 * - `invalid_request`: rejected before sending.
 */
export type ZegoApiErrorKind =
  'api' | 'http' | 'network' | 'timeout' | 'invalid_response' | 'invalid_request';

export class ZegoApiError extends Error {
  override name = 'ZegoApiError';
  readonly action: ZegoApiAction;
  readonly kind: ZegoApiErrorKind;
  /** ZEGO's `Code`, when the response carried one. */
  readonly code: number | null;
  readonly httpStatus: number | null;
  readonly requestId: string | null;
  /** Whether the same call may succeed if retried later (it is re-signed on every attempt). */
  readonly retryable: boolean;

  constructor(fields: {
    action: ZegoApiAction;
    kind: ZegoApiErrorKind;
    message: string;
    code?: number | null;
    httpStatus?: number | null;
    requestId?: string | null;
    retryable: boolean;
    cause?: unknown;
  }) {
    super(fields.message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.action = fields.action;
    this.kind = fields.kind;
    this.code = fields.code ?? null;
    this.httpStatus = fields.httpStatus ?? null;
    this.requestId = fields.requestId ?? null;
    this.retryable = fields.retryable;
  }
}

/** ZEGO's "task does not exist": a caller stopping a task treats it as already stopped. */
export function isTaskNotFound(err: unknown): boolean {
  return err instanceof ZegoApiError && err.code === ZEGO_CODE_TASK_NOT_FOUND;
}

export interface StreamRef {
  StreamId?: string;
  StreamUrl?: string;
}

export interface StartCloudTranscodeBody {
  TaskId: string;
  UserId: string;
  Sequence?: number;
  /** Exactly one of StreamId / StreamUrl (§9 #16). */
  TranscodeInput: StreamRef;
  TranscodeOutput: Array<StreamRef & { TemplateId: number; TemplateConfig?: Record<string, number> }>;
}

export interface StopCloudTranscodeBody {
  TaskId: string;
  UserId: string;
  Sequence?: number;
}

export interface ZegoApiResult {
  code: number;
  message: string;
  requestId: string;
}

export interface ZegoApiClientOptions {
  /** Decimal AppId from the Console. */
  appId: string;
  serverSecret: string;
  /** Default https://rtc-api.zego.im; see baseUrlForRegion. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Epoch ms, used for the signed Timestamp only (spacing uses a monotonic clock). */
  now?: () => number;
  /** Per request, from sending to the end of the response body. Default 10 s. */
  timeoutMs?: number;
  /** Client-side cap, default 50; at most ZEGO's 100/s. */
  maxRequestsPerSecond?: number;
  /** Legacy `IsTest` query param for projects created on or before 2021-11-16; omitted when undefined (§9 #18). */
  isTest?: boolean;
}

export class ZegoApiClient {
  readonly appId: string;
  private readonly serverSecret: string;
  private readonly baseUrl: URL;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly isTest: boolean | undefined;
  private readonly spacer: RequestSpacer;

  constructor(opts: ZegoApiClientOptions) {
    if (!/^\d+$/.test(opts.appId)) {
      throw new RangeError(`appId must be ZEGO's decimal AppId; got ${JSON.stringify(opts.appId)}`);
    }
    if (!opts.serverSecret) throw new RangeError('serverSecret is empty');
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0; got ${timeoutMs}`);
    const rate = opts.maxRequestsPerSecond ?? DEFAULT_MAX_REQUESTS_PER_SECOND;
    if (!(rate > 0 && rate <= ZEGO_MAX_REQUESTS_PER_SECOND)) {
      throw new RangeError(
        `maxRequestsPerSecond must be > 0 and <= ${ZEGO_MAX_REQUESTS_PER_SECOND} (ZEGO's limit per API); got ${rate}`,
      );
    }
    this.appId = opts.appId;
    this.serverSecret = opts.serverSecret;
    this.baseUrl = new URL(opts.baseUrl ?? DEFAULT_ZEGO_API_BASE_URL);
    // Looked up per call (not captured) so a global fetch replaced later, e.g. by a test, is used.
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = opts.now ?? Date.now;
    this.timeoutMs = timeoutMs;
    this.isTest = opts.isTest;
    this.spacer = new RequestSpacer(1000 / rate);
  }

  /** Starts a task, or updates it when called again with the same TaskId (and a higher Sequence). */
  startCloudTranscode(body: StartCloudTranscodeBody): Promise<ZegoApiResult> {
    const sources = [body.TranscodeInput?.StreamId, body.TranscodeInput?.StreamUrl].filter(
      (s) => s !== undefined && s !== '',
    );
    if (sources.length !== 1) {
      const got = sources.length === 0 ? 'neither' : 'both';
      // ZEGO silently prefers StreamUrl when both are set (§6.1); refusing avoids transcoding the wrong input.
      return Promise.reject(
        new ZegoApiError({
          action: 'StartCloudTranscode',
          kind: 'invalid_request',
          message: `StartCloudTranscode TranscodeInput needs exactly one of StreamId or StreamUrl; got ${got}`,
          retryable: false,
        }),
      );
    }
    return this.call('StartCloudTranscode', body);
  }

  /** Stops a task. A task ZEGO does not know fails with 110209001: see isTaskNotFound. */
  stopCloudTranscode(body: StopCloudTranscodeBody): Promise<ZegoApiResult> {
    return this.call('StopCloudTranscode', body);
  }

  private async call(action: ZegoApiAction, body: object): Promise<ZegoApiResult> {
    await this.spacer.acquire();

    // Signed after waiting for a slot, so the timestamp is as fresh as possible.
    const nonce = newSignatureNonce();
    const timestamp = Math.floor(this.now() / 1000);
    const url = new URL(this.baseUrl);
    url.search = new URLSearchParams({
      Action: action,
      AppId: this.appId,
      SignatureNonce: nonce,
      Timestamp: String(timestamp),
      Signature: computeApiSignature(this.appId, nonce, this.serverSecret, timestamp),
      SignatureVersion: '2.0',
      ...(this.isTest === undefined ? {} : { IsTest: String(this.isTest) }),
    }).toString();

    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await this.fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (controller.signal.aborted) {
        throw new ZegoApiError({
          action,
          kind: 'timeout',
          message: `${action} got no complete response from ${this.baseUrl.host} within ${this.timeoutMs} ms`,
          retryable: true,
          cause: err,
        });
      }
      throw new ZegoApiError({
        action,
        kind: 'network',
        message: `${action} could not reach ${this.baseUrl.host}: ${describeNetworkError(err)}`,
        retryable: true,
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }

    return interpretResponse(action, status, text);
  }
}

function interpretResponse(action: ZegoApiAction, status: number, text: string): ZegoApiResult {
  const envelope = parseEnvelope(text);
  const httpOk = status >= 200 && status < 300;

  if (httpOk && envelope?.code === 0) return envelope;

  if (!httpOk) {
    const httpRetryable = status >= 500 || status === 429;
    const codeRetryable = envelope ? isRetryableZegoCode(envelope.code) : false;
    throw new ZegoApiError({
      action,
      kind: 'http',
      message:
        `${action} failed with HTTP ${status}` +
        (envelope ? `, ${describeCode(envelope)}` : text ? `: ${clip(text)}` : ''),
      code: envelope?.code,
      httpStatus: status,
      requestId: envelope?.requestId,
      retryable: httpRetryable || codeRetryable,
    });
  }

  if (!envelope) {
    throw new ZegoApiError({
      action,
      kind: 'invalid_response',
      message: `${action} got HTTP ${status} but the body is not ZEGO's {Code, Message, RequestId} envelope: ${clip(text)}`,
      httpStatus: status,
      retryable: false,
    });
  }

  throw new ZegoApiError({
    action,
    kind: 'api',
    message: `${action} failed: ${describeCode(envelope)}`,
    code: envelope.code,
    httpStatus: status,
    requestId: envelope.requestId,
    retryable: isRetryableZegoCode(envelope.code),
  });
}

/** `Code` is a number (a numeric string is accepted); any `Data` is ignored (§9 #17). */
function parseEnvelope(text: string): ZegoApiResult | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { Code, Message, RequestId } = parsed as Record<string, unknown>;
  const code =
    typeof Code === 'number' ? Code : typeof Code === 'string' && /^\d+$/.test(Code) ? Number(Code) : NaN;
  if (!Number.isSafeInteger(code)) return null;
  return {
    code,
    message: typeof Message === 'string' ? Message : '',
    requestId: typeof RequestId === 'string' || typeof RequestId === 'number' ? String(RequestId) : '',
  };
}

function describeCode(envelope: ZegoApiResult): string {
  const meaning = ZEGO_ERROR_CODES[envelope.code]?.meaning ?? 'undocumented code';
  return (
    `ZEGO Code ${envelope.code} (${meaning})` +
    (envelope.message ? `: ${clip(envelope.message)}` : '') +
    (envelope.requestId ? ` [RequestId ${envelope.requestId}]` : '')
  );
}

/**
 * undici says only "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND…) is in `cause`.
 * Duck-typed, not `instanceof Error`: the error may come from another realm (e.g. under jest).
 */
function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 3 && typeof e === 'object' && e !== null && 'message' in e; depth++) {
    const { message, code, cause } = e as { message: unknown; code?: unknown; cause?: unknown };
    parts.push(typeof code === 'string' ? `${String(message)} (${code})` : String(message));
    e = cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}

/**
 * Spaces request starts at least `intervalMs` apart, in call order, so no 1-second window ever holds more
 * than the configured rate, even for a burst of concurrent calls. Uses the monotonic clock: an injected
 * or stepped wall clock must not stall or burst the queue.
 */
class RequestSpacer {
  private tail: Promise<void> = Promise.resolve();
  private lastStart = -Infinity;

  constructor(private readonly intervalMs: number) {}

  acquire(): Promise<void> {
    const turn = this.tail.then(async () => {
      // A loop because timers may fire a little early; the next start is measured from the real last start.
      for (;;) {
        const wait = this.lastStart + this.intervalMs - performance.now();
        if (wait <= 0) break;
        await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
      }
      this.lastStart = performance.now();
    });
    this.tail = turn;
    return turn;
  }
}
