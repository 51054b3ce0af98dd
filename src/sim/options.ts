/**
 * The simulator's options, their defaults and their validation, shared by the CLI and runSimulation so
 * both reject the same bad input with the same messages.
 */
import { randomBytes } from 'node:crypto';
import { ENCODING_CHOICES, type EncodingChoice } from './encoding';
import { ZEGO_RETRY_DELAYS_MS } from './sender';

export interface SimulationOptions {
  /** The service's base URL (`/zego/callback` is appended) or the full callback URL (any other path). */
  url: string;
  /** CallbackSecret to sign with. */
  secret: string;
  /** Default 10. */
  tasks?: number;
  /** Most `TranscodeUpdated` callbacks per task (each task gets 0..updates). Default 2. */
  updates?: number;
  /** Simulated length of a task in seconds (each lasts between half of it and all of it). Default 120. */
  durationSeconds?: number;
  /** Share of tasks stopped after an exception (StopReason 1). Default 0.1. */
  abnormalShare?: number;
  /** Share of stops with ZEGO's documented buggy `Status: TranscodeStarted`. Default 0.05. */
  buggyStatusShare?: number;
  /** Per callback, probability of an identical redelivery. Default 0. */
  duplicateRate?: number;
  /** Per callback, probability of a redelivery signed anew. Default 0. */
  resignRate?: number;
  /** Per task, probability of the stop or an update arriving before the start. Default 0. */
  reorderRate?: number;
  /** Per callback, probability of an identical redelivery after `lateDelayMs`. Default 0. */
  lateRate?: number;
  /** Default 10 s. */
  lateDelayMs?: number;
  /** Default `json`. */
  encoding?: EncodingChoice;
  /** Requests in flight at most. Default 10. */
  concurrency?: number;
  /** New callbacks offered per second at most (open loop). Default: as fast as concurrency allows. */
  ratePerSecond?: number;
  /** Default: a random one (reported, so a run can be repeated). */
  seed?: string;
  /** Multiplies ZEGO's 2/4/8/16/32 s retry intervals. Default 1. */
  retryScale?: number;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
  /** Default `111111` (ZEGO's doc example). */
  appId?: string;
  /** The service's ZEGO_CALLBACK_MAX_SKEW; every timestamp must stay within it. Default 5 min. */
  maxSkewMs?: number;
  /** TaskId prefix. Default `sim-<seed>-`. */
  taskIdPrefix?: string;
  /** Clock of the plan, epoch ms. Default Date.now(). */
  nowMs?: number;
}

export type ResolvedOptions = Required<Omit<SimulationOptions, 'ratePerSecond' | 'taskIdPrefix'>> & {
  ratePerSecond?: number;
  taskIdPrefix?: string;
  /** The URL callbacks are POSTed to. */
  callbackUrl: string;
};

export class SimulationOptionsError extends Error {
  override name = 'SimulationOptionsError';

  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

export const DEFAULTS = {
  tasks: 10,
  updates: 2,
  durationSeconds: 120,
  abnormalShare: 0.1,
  buggyStatusShare: 0.05,
  duplicateRate: 0,
  resignRate: 0,
  reorderRate: 0,
  lateRate: 0,
  lateDelayMs: 10_000,
  encoding: 'json' as EncodingChoice,
  concurrency: 10,
  retryScale: 1,
  timeoutMs: 5_000,
  appId: '111111',
  maxSkewMs: 5 * 60_000,
};

/** Applies defaults and checks everything; throws SimulationOptionsError listing every problem. */
export function resolveOptions(input: SimulationOptions): ResolvedOptions {
  const o = { ...DEFAULTS, ...stripUndefined(input), url: input.url, secret: input.secret };
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  const int = (name: string, v: number, min: number, max: number) =>
    check(
      Number.isInteger(v) && v >= min && v <= max,
      `${name} must be a whole number from ${min} to ${max}`,
    );
  const range = (name: string, v: number, min: number, max: number) =>
    check(Number.isFinite(v) && v >= min && v <= max, `${name} must be a number from ${min} to ${max}`);

  const callbackUrl = callbackUrlOf(o.url, problems);
  check(
    typeof o.secret === 'string' && o.secret !== '',
    'secret is required (the CallbackSecret to sign with)',
  );
  check(
    typeof o.appId === 'string' && /^\S{1,64}$/.test(o.appId),
    'appId must be 1 to 64 non-blank characters',
  );
  int('tasks', o.tasks, 1, 1_000_000);
  int('updates', o.updates, 0, 100);
  int('duration', o.durationSeconds, 1, 86_400);
  for (const [name, v] of [
    ['abnormal share', o.abnormalShare],
    ['buggy status share', o.buggyStatusShare],
    ['duplicate rate', o.duplicateRate],
    ['resign rate', o.resignRate],
    ['reorder rate', o.reorderRate],
    ['late rate', o.lateRate],
  ] as const) {
    range(name, v, 0, 1);
  }
  range('late delay (ms)', o.lateDelayMs, 0, 3_600_000);
  check(ENCODING_CHOICES.includes(o.encoding), `encoding must be one of ${ENCODING_CHOICES.join(', ')}`);
  int('concurrency', o.concurrency, 1, 10_000);
  if (o.ratePerSecond !== undefined) range('rate', o.ratePerSecond, 0.001, 1_000_000);
  range('retry scale', o.retryScale, 0, 100);
  range('timeout (ms)', o.timeoutMs, 1, 600_000);
  range('max skew (ms)', o.maxSkewMs, 1000, 86_400_000);

  // The oldest timestamp is a start's, `duration` before its stop; an identical redelivery of it can
  // arrive up to the late delay plus ZEGO's whole retry span (timeouts included) after that.
  const retrySpanMs = ZEGO_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0) * o.retryScale;
  const oldestMs = o.durationSeconds * 1000 + o.lateDelayMs + retrySpanMs + 6 * o.timeoutMs;
  if (problems.length === 0 && oldestMs >= o.maxSkewMs) {
    problems.push(
      `timestamps would leave the service's skew window of ${o.maxSkewMs / 1000} s: duration ${o.durationSeconds} s` +
        ` + late delay ${o.lateDelayMs / 1000} s + retries ${(retrySpanMs + 6 * o.timeoutMs) / 1000} s;` +
        ' shorten --duration or --late-delay, or raise --max-skew to match the service',
    );
  }
  if (problems.length) throw new SimulationOptionsError(problems);

  return {
    ...o,
    seed: o.seed ?? randomBytes(4).toString('hex'),
    nowMs: o.nowMs ?? Date.now(),
    callbackUrl: callbackUrl as string,
  };
}

/** A base URL (path `/`) gets `/zego/callback`; any other path is taken as the callback URL itself. */
function callbackUrlOf(url: unknown, problems: string[]): string | undefined {
  if (typeof url !== 'string' || url === '') {
    problems.push('url is required (the service base URL or its callback URL)');
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push(`url ${JSON.stringify(url)} is not a URL`);
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    problems.push(`url must be http or https, got ${parsed.protocol}`);
    return undefined;
  }
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/zego/callback';
  return parsed.toString();
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
