/**
 * What a failed delivery (signal-with-start) means for the relay. Pure: unit-tested without
 * Temporal.
 *
 * - `unavailable`: Temporal is away, slow or shedding load. Every delivery would fail the same
 *   way: the relay stops, backs off and probes (entries are given back untouched).
 * - `waiting`: Temporal answers but cannot take callbacks yet, for all of them alike: the
 *   lifecycle's search attributes are not registered (a fresh namespace: INVALID_ARGUMENT, yet not
 *   a refusal of this callback), the namespace is missing, the credentials are refused. Handled
 *   like `unavailable`, and the relay tries to register the search attributes.
 * - `refused`: Temporal refused this callback for good (INVALID_ARGUMENT and the like): retrying
 *   the same request cannot help, so the entry is parked as `rejected` and alerted. Identifiers
 *   Temporal cannot carry are already a 400 at the door, so this should stay rare.
 * - `failed`: anything else. Retried after a delay that grows with the entry's attempts, and
 *   parked as `rejected` after `MAX_FAILED_ATTEMPTS`, so a poison entry cannot loop for ever.
 */

export type DeliveryFailureKind = 'unavailable' | 'waiting' | 'refused' | 'failed';

export interface DeliveryFailure {
  kind: DeliveryFailureKind;
  /** gRPC status code name when there is one (e.g. INVALID_ARGUMENT). */
  code: string | null;
  /** One line, safe to store and show (no credentials in Temporal's messages). */
  message: string;
}

/** Deliveries of one entry that may end in `failed` before it is parked. */
export const MAX_FAILED_ATTEMPTS = 20;

const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

const UNAVAILABLE = new Set([
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'CANCELLED',
  'ABORTED',
]);
const WAITING = new Set(['NOT_FOUND', 'PERMISSION_DENIED', 'UNAUTHENTICATED', 'UNIMPLEMENTED']);
const REFUSED = new Set(['INVALID_ARGUMENT', 'OUT_OF_RANGE']);

/**
 * Temporal's words for a search attribute the namespace does not know (dev server/Elasticsearch:
 * "search attribute X is not defined"; SQL visibility: "… has no mapping defined for search
 * attribute X"). A value that is too long also says "search attribute", so the match is narrow.
 */
const UNREGISTERED_SEARCH_ATTRIBUTE =
  /search attribute \S+ is not defined|no mapping defined for search attribute/i;

/** Node's and undici's words for a connection that could not be made or broke. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  details?: unknown;
  cause?: unknown;
  name?: unknown;
}

/** The errors of a cause chain, outermost first (bounded against cycles). */
function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null; depth++) {
    out.push(e as ErrorLike);
    e = (e as ErrorLike).cause;
  }
  return out;
}

/** The gRPC status code name in the chain (grpc-js errors carry a numeric `code`). */
export function grpcCodeOf(err: unknown): string | null {
  for (const e of chain(err)) {
    if (typeof e.code === 'number' && Number.isInteger(e.code) && GRPC_CODES[e.code]) {
      // Node system errors have string codes; a number is grpc-js's status.
      return GRPC_CODES[e.code];
    }
  }
  return null;
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/** The most specific message in the chain (gRPC `details` when present). */
function messageOf(err: unknown): string {
  const parts = chain(err);
  for (const e of [...parts].reverse()) {
    if (typeof e.details === 'string' && e.details) return oneLine(e.details);
  }
  for (const e of parts) {
    if (typeof e.message === 'string' && e.message) return oneLine(e.message);
  }
  return oneLine(String(err));
}

export function classifyDeliveryError(err: unknown): DeliveryFailure {
  const code = grpcCodeOf(err);
  const message = messageOf(err);
  const errors = chain(err);
  const of = (kind: DeliveryFailureKind): DeliveryFailure => ({ kind, code, message });
  if (
    code === 'INVALID_ARGUMENT' &&
    errors.some((e) => UNREGISTERED_SEARCH_ATTRIBUTE.test(String(e.message ?? '') + String(e.details ?? '')))
  )
    return of('waiting');
  if (code !== null) {
    if (UNAVAILABLE.has(code)) return of('unavailable');
    if (WAITING.has(code)) return of('waiting');
    if (REFUSED.has(code)) return of('refused');
    return of('failed');
  }
  // No gRPC status: our own deadline, a connection that could not be made, a timeout.
  if (
    errors.some(
      (e) =>
        e.name === 'TimeoutError' ||
        e.name === 'AbortError' ||
        e.name === 'TemporalUnavailableError' ||
        (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)),
    )
  )
    return of('unavailable');
  return of('failed');
}

/**
 * The delay before retrying an entry that `failed`: exponential in its attempts from 1 s, capped
 * at 60 s, with full jitter (`random` in [0, 1)).
 */
export function failedRetryDelayMs(attempts: number, random: () => number = Math.random): number {
  const ceiling = Math.min(60_000, 1_000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
