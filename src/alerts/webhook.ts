/**
 * One POST of an alert to ALERT_WEBHOOK_URL, with the alert's key as `Idempotency-Key` so a
 * receiver recognises a retried POST. Says whether a retry can help: 2xx delivered; network
 * errors, timeouts, 408, 429 and 5xx retryable (with the receiver's `Retry-After` when it gave one);
 * any other status rejected for good. Shared by the worker's alert activities and the server's
 * own alerts (the inbox's callback_rejected and callback_backlog).
 */
import type { StoredAlert } from '../store/types';

export type WebhookResult =
  | { kind: 'delivered'; status: number }
  | { kind: 'retryable'; error: string; status?: number; retryAfterMs?: number }
  | { kind: 'rejected'; error: string; status: number };

export interface WebhookOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Aborts the POST (an activity's cancellation). */
  signal?: AbortSignal;
}

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** Longest delay honoured from a receiver's `Retry-After`. */
const MAX_RETRY_AFTER_MS = 60 * 60_000;
/** How much of a refusing receiver's body is kept in the error. */
const MAX_ERROR_BODY_CHARS = 300;

export async function postAlertWebhook(
  url: string,
  body: Record<string, unknown>,
  idempotencyKey: string,
  opts: WebhookOptions = {},
): Promise<WebhookResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  let response: Response;
  try {
    response = await (opts.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? err;
    return {
      kind: 'retryable',
      error: timeout.aborted ? `timed out after ${timeoutMs} ms` : `failed: ${describeError(err)}`,
    };
  }
  const status = response.status;
  if (status >= 200 && status < 300) {
    await response.body?.cancel().catch(() => undefined);
    return { kind: 'delivered', status };
  }
  const snippet = await readSnippet(response);
  const error = `HTTP ${status}${snippet ? `: ${snippet}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    return {
      kind: 'retryable',
      error,
      status,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
    };
  }
  return { kind: 'rejected', error, status };
}

/** Origin only: webhook URLs often carry tokens in their path or query. */
export function describeWebhook(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '<invalid url>';
  }
}

async function readSnippet(response: Response): Promise<string> {
  try {
    return (await response.text()).trim().slice(0, MAX_ERROR_BODY_CHARS);
  } catch {
    return '';
  }
}

/** `Retry-After` (delta-seconds or HTTP date) → ms, capped; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - Date.now();
  }
  if (!(ms > 0)) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : '';
  return causeText && causeText !== err.message ? `${err.message} (${causeText})` : err.message;
}

/** The JSON an alert receiver gets (the same for every alert kind). */
export function alertWebhookBody(alert: StoredAlert): Record<string, unknown> {
  return {
    kind: alert.kind,
    appId: alert.appId,
    taskId: alert.taskId,
    userId: alert.userId,
    workflowId: alert.workflowId,
    lifecycleId: alert.lifecycleId,
    reason: alert.reason,
    occurredAt: alert.occurredAt,
    recordedAt: alert.createdAt,
    idempotencyKey: alert.key,
    details: alert.details ?? {},
  };
}
