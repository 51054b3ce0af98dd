/**
 * The two ways a callback is made safe before the route answers 200 (the `CallbackRecorder` port,
 * src/http/ports.ts):
 *
 * - `InboxRecorder` (with a database: PostgreSQL, or `npm run dev`'s embedded one): one statement
 *   binds the nonce and records the entry; the relay is kicked and delivers it behind. Nothing here
 *   waits for Temporal.
 * - `DirectRecorder` (a lone `npm run server` without DATABASE_URL: version 1's behaviour): the nonce
 *   is bound in memory and the callback handed to Temporal at once; only Temporal's acknowledgement
 *   earns the 200. One replica only.
 */
import { context, propagation } from '@opentelemetry/api';
import type { CallbackRecorder, CallbackToRecord, LifecycleGateway, RecordOutcome } from '../http/ports';
import type { CallbackInbox, InboxEntry } from '../store/inbox';
import type { NonceStore } from '../store/types';
import { classifyDeliveryError } from './classify';

function nonceKey(cb: CallbackToRecord): string {
  return `${cb.callback.timestamp}:${cb.callback.nonce}`;
}

/** What the inbox recorder needs of this replica's relay (src/inbox/relay.ts). */
export interface LocalRelay {
  reserve(): { owner: string; leaseMs: number } | null;
  cancel(): void;
  deliverLeased(entry: InboxEntry): void;
  kick(): void;
}

export class InboxRecorder implements CallbackRecorder {
  readonly mode = 'inbox' as const;

  constructor(
    private readonly inbox: CallbackInbox,
    private readonly relay: LocalRelay,
  ) {}

  async record(cb: CallbackToRecord, deadlineAt: number): Promise<RecordOutcome> {
    // With tracing on, the relay's hand-off continues the request's trace (a no-op otherwise).
    const traceContext: Record<string, string> = {};
    propagation.inject(context.active(), traceContext);
    const payload = { ...cb.callback, receivedAt: cb.receivedAt };
    // The happy path: the statement that records the callback also leases it to this replica's
    // relay, which delivers it at once (no claim round trip).
    const leaseTo = this.relay.reserve();
    let result;
    try {
      result = await this.inbox.record({
        traceContext,
        nonceKey: nonceKey(cb),
        fingerprint: cb.fingerprint,
        nonceExpiresAtMs: cb.nonceExpiresAtMs,
        workflowId: cb.workflowId,
        payload,
        timeoutMs: Math.max(1, deadlineAt - Date.now()),
        ...(leaseTo ? { leaseTo } : {}),
      });
    } catch (err) {
      if (leaseTo) this.relay.cancel();
      throw err;
    }
    const leased = result.binding !== 'conflict' && result.leased;
    if (leaseTo && !leased) this.relay.cancel();
    if (result.binding === 'conflict') return { kind: 'nonce_reused' };
    if (leased) this.relay.deliverLeased(leasedEntry(result.id, cb, payload, traceContext));
    else this.relay.kick();
    return {
      kind: result.duplicate ? 'duplicate' : 'accepted',
      workflowId: cb.workflowId,
      entryId: result.id,
    };
  }
}

/** The entry as the record statement wrote it, leased to this relay (attempt 1). */
function leasedEntry(
  id: string,
  cb: CallbackToRecord,
  payload: InboxEntry['payload'],
  traceContext: Record<string, string>,
): InboxEntry {
  return {
    id,
    status: 'pending',
    appId: payload.appId,
    taskId: payload.taskId,
    workflowId: cb.workflowId,
    event: payload.event,
    callbackStatus: payload.status,
    sequence: payload.sequence,
    receivedAt: payload.receivedAt,
    attempts: 1,
    redeliveries: 0,
    deliveredAt: null,
    outcome: null,
    runId: null,
    error: null,
    leaseUntil: null,
    payload,
    traceContext: Object.keys(traceContext).length ? traceContext : null,
  };
}

export class DirectRecorder implements CallbackRecorder {
  readonly mode = 'direct' as const;

  constructor(
    private readonly nonces: NonceStore,
    private readonly gateway: Pick<LifecycleGateway, 'deliver'>,
  ) {}

  async record(cb: CallbackToRecord): Promise<RecordOutcome> {
    const binding = await this.nonces.bind(nonceKey(cb), cb.fingerprint, cb.nonceExpiresAtMs);
    if (binding === 'conflict') return { kind: 'nonce_reused' };
    let outcome;
    try {
      outcome = await this.gateway.deliver({ ...cb.callback, receivedAt: cb.receivedAt }, cb.workflowId);
    } catch (err) {
      // A refusal for good is no outage: ZEGO's retries could not change it (there is no inbox to
      // park it in, so the answer says so instead of 503).
      const failure = classifyDeliveryError(err);
      if (failure.kind === 'refused')
        return { kind: 'refused', error: `${failure.code}: ${failure.message}` };
      throw err;
    }
    if (outcome.kind === 'duplicate_after_close')
      return { kind: 'duplicate_after_close', workflowId: cb.workflowId };
    return {
      kind: binding === 'same' ? 'duplicate' : 'accepted',
      workflowId: cb.workflowId,
      runId: outcome.runId,
      newLifecycle: outcome.newLifecycle,
    };
  }
}
