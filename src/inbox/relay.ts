/**
 * The relay: hands pending inbox entries to Temporal (signal-with-start through the lifecycle
 * gateway, with its REJECT_DUPLICATE / closed-run `maxSequence` / next-lifecycle rules). One runs in
 * every server replica.
 *
 * - At once on the happy path: the statement recording a callback leases it to this relay, which
 *   delivers it without a claim. A claim runs only when something may be claimable: a callback
 *   recorded without that lease (the relay was full, or its task had an entry in flight) kicks the
 *   relay; a completion whose task has entries pending behind it; an entry handed back; the circuit
 *   closing. A sweep every `sweepIntervalMs` takes what nobody kicked (another replica died, a retry
 *   delay ran out). (A claim after every delivery cost two statements per callback at moderate
 *   rates, each finding nothing.)
 * - Whole tasks: a claim leases a task's pending entries (src/store/inbox.ts) and they are
 *   delivered one after the other in Sequence order; at most `concurrency` tasks are in flight.
 * - Temporal away (`unavailable`, `waiting`: src/inbox/classify.ts): the circuit opens, the
 *   entries go back untouched, and the relay waits with exponential backoff and full jitter; then
 *   one task goes through as a probe, and on success the circuit closes and the backlog drains at
 *   full concurrency.
 * - Refused for good: the entry is parked as `rejected` and `onRejected` raises the alert; the
 *   task's next entries go on.
 * - Completions are written in batches (one UPDATE for many entries). A replica that dies leaves
 *   leases that expire; the entries are then delivered again by another (the lifecycle counts a
 *   repeat delivery, nothing more).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Logger } from '../logger';
import type { HandoffOutcome } from '../http/ports';
import type { CallbackInbox, Delivered, InboxEntry } from '../store/inbox';
import type { CallbackSignalPayload } from '../../workflows/definitions';
import {
  classifyDeliveryError,
  failedRetryDelayMs,
  MAX_FAILED_ATTEMPTS,
  type DeliveryFailure,
} from './classify';
import type { InboxMetrics } from './metrics';

export interface RelayGateway {
  /** Throws when Temporal does not take it (classified by classifyDeliveryError). */
  deliver(payload: CallbackSignalPayload, workflowId?: string): Promise<HandoffOutcome>;
}

export interface RelayOptions {
  inbox: CallbackInbox;
  gateway: RelayGateway;
  logger: Logger;
  metrics?: InboxMetrics;
  /** Bounds one delivery (the gateway enforces it); leases are sized from it. */
  handoffTimeoutMs: number;
  /** Tasks in flight at most. Default 32. */
  concurrency?: number;
  /** How often to look for entries nobody kicked. Default 1 s. */
  sweepIntervalMs?: number;
  /** Backoff while Temporal is away. Default 250 ms doubling to 10 s, full jitter. */
  backoff?: { initialMs: number; maxMs: number };
  /** Called once an entry is parked as rejected (raise the alert). Errors are logged. */
  onRejected?: (entry: InboxEntry, failure: DeliveryFailure) => Promise<void>;
  /** Called (at most every 10 s) while Temporal lacks the search attributes. */
  registerSearchAttributes?: () => Promise<void>;
  owner?: string;
  random?: () => number;
}

export type TemporalState = 'up' | 'away' | 'waiting';

export interface RelayStatus {
  owner: string;
  temporal: TemporalState;
  inFlightTasks: number;
  lastFailure: DeliveryFailure | null;
  running: boolean;
}

const COMPLETION_FLUSH_MS = 5;
const KICK_COALESCE_MS = 2;
const COMPLETION_BATCH = 200;
const DB_RETRY_MS = 500;

export class InboxRelay {
  readonly owner: string;
  private readonly inbox: CallbackInbox;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly sweepIntervalMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly random: () => number;

  private running = false;
  private loopDone: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  private wakeOnKick = false;
  /** A claim is wanted: something may be claimable (see the header). */
  private kicked = true;
  /** When the last claim started (the sweep runs sweepIntervalMs after it). */
  private lastClaimAt = 0;
  /** Counts kicks, so a completion can tell whether one came while it was being written. */
  private kicks = 0;
  /** Slots promised to callbacks being recorded (see reserve). */
  private reserved = 0;
  private kickTimer: NodeJS.Timeout | undefined;

  private temporal: TemporalState = 'up';
  private lastFailure: DeliveryFailure | null = null;
  private consecutiveFailures = 0;
  private lastRegistrationMs = 0;

  private readonly completions: Delivered[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly opts: RelayOptions) {
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.inbox = opts.inbox;
    this.log = opts.logger.child({ component: 'relay', owner: this.owner });
    this.concurrency = Math.max(1, opts.concurrency ?? 32);
    // Short, so a replica that died holds nothing for long; a task's chain stops before an entry
    // that could outlive the lease (see deliverTask).
    this.leaseMs = 2 * opts.handoffTimeoutMs + 10_000;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 1_000;
    this.backoff = opts.backoff ?? { initialMs: 250, maxMs: 10_000 };
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop().catch((err: unknown) => {
      // Not expected (every step catches its own errors); never leave callbacks undelivered.
      this.log.error({ err }, 'relay loop crashed; restarting it in 1 s');
      this.running = false;
      setTimeout(() => this.start(), 1_000).unref();
    });
  }

  /**
   * Something was recorded or handed back: look now instead of at the next sweep. Kicks within
   * KICK_COALESCE_MS share one claim (under load, one claim statement takes many tasks).
   */
  kick(): void {
    this.kicked = true;
    this.kicks += 1;
    if (!this.running || !this.wakeOnKick || this.kickTimer) return;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined;
      this.wakeIfKickable();
    }, KICK_COALESCE_MS);
  }

  /**
   * A slot for a callback being recorded right now, so the record statement can lease it to this
   * relay and hand it over without a claim (the happy path's one round trip less). Null when the
   * relay is full, stopping or backing off: the entry then waits for a claim like any other.
   * Every reservation ends in `deliverLeased` or `cancel`.
   */
  reserve(): { owner: string; leaseMs: number } | null {
    if (!this.running || this.temporal !== 'up' || this.inFlight.size + this.reserved >= this.concurrency)
      return null;
    this.reserved += 1;
    return { owner: this.owner, leaseMs: this.leaseMs };
  }

  cancel(): void {
    this.reserved = Math.max(0, this.reserved - 1);
  }

  /** Delivers an entry the record statement leased to this relay (its reservation ends here). */
  deliverLeased(entry: InboxEntry): void {
    this.cancel();
    const run = this.deliverTask([entry], Date.now() + this.leaseMs).finally(() => {
      this.inFlight.delete(run);
      this.wakeIfKickable();
    });
    this.inFlight.add(run);
  }

  status(): RelayStatus {
    return {
      owner: this.owner,
      temporal: this.temporal,
      inFlightTasks: this.inFlight.size,
      lastFailure: this.lastFailure,
      running: this.running,
    };
  }

  /** Stops claiming, lets the deliveries in flight finish, writes their completions. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.kickTimer) clearTimeout(this.kickTimer);
    this.wake?.();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
    await this.flushCompletions();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.temporal !== 'up') {
        // Backing off: kicks do not cut the wait short (new callbacks are safe in the inbox).
        await this.idle(this.backoffMs(), false);
        if (!this.running) break;
        if (this.inFlight.size > 0) continue;
        // Half-open: one task goes through as the probe; its success closes the circuit. With
        // nothing to deliver there is nothing to learn: the next delivery tells.
        if ((await this.claimAndRun(1, true)) === 0 && !this.isUp()) this.circuitClosed();
        continue;
      }
      const free = this.concurrency - this.inFlight.size - this.reserved;
      if (free <= 0) {
        await this.idle(this.sweepIntervalMs, true);
        continue;
      }
      const untilSweepMs = this.untilSweepMs();
      if (!this.kicked && untilSweepMs > 0) {
        await this.idle(untilSweepMs, true);
        continue;
      }
      this.kicked = false;
      this.lastClaimAt = Date.now();
      // A full claim: more may be waiting, look again at once.
      if ((await this.claimAndRun(free, false)) === free) this.kicked = true;
    }
  }

  /** Claims up to `tasks` tasks and starts delivering them; returns how many tasks it got. */
  private async claimAndRun(tasks: number, probe: boolean): Promise<number> {
    let entries: InboxEntry[];
    try {
      entries = await this.inbox.claim(this.owner, { tasks, leaseMs: this.leaseMs });
    } catch (err) {
      this.log.warn({ err: errorText(err) }, 'inbox claim failed; retrying');
      this.kicked = true;
      await this.idle(DB_RETRY_MS, false);
      return 0;
    }
    const leaseEndsAt = Date.now() + this.leaseMs;
    const byTask = new Map<string, InboxEntry[]>();
    for (const e of entries) byTask.set(e.workflowId, [...(byTask.get(e.workflowId) ?? []), e]);
    for (const group of byTask.values()) {
      const run = this.deliverTask(group, leaseEndsAt).finally(() => {
        this.inFlight.delete(run);
        this.wakeIfKickable();
      });
      this.inFlight.add(run);
      if (probe) await run;
    }
    return byTask.size;
  }

  /** One task's entries in Sequence order; stops at the first that cannot go now. */
  private async deliverTask(entries: InboxEntry[], leaseEndsAt: number): Promise<void> {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const leaseLeft = leaseEndsAt - Date.now();
      if (
        !this.running ||
        (this.temporal !== 'up' && i > 0) ||
        leaseLeft < this.opts.handoffTimeoutMs + 1_000
      ) {
        // Given back in order: the task's next claim starts with this entry.
        await this.release(
          entries.slice(i),
          0,
          'not delivered in this claim (relay stopping, backing off, or lease ending)',
        );
        return;
      }
      let outcome: HandoffOutcome;
      try {
        // The recording request's trace goes on here (tracing on); otherwise this is the root context.
        const traced = entry.traceContext
          ? propagation.extract(ROOT_CONTEXT, entry.traceContext)
          : ROOT_CONTEXT;
        outcome = await context.with(traced, () =>
          this.opts.gateway.deliver(entry.payload, entry.workflowId),
        );
      } catch (err) {
        const failure = classifyDeliveryError(err);
        this.opts.metrics?.deliveries.inc({ outcome: failure.kind });
        if (failure.kind === 'unavailable' || failure.kind === 'waiting') {
          this.circuitOpen(failure);
          await this.release(entries.slice(i), 0, failure.message);
          return;
        }
        if (failure.kind === 'refused' || entry.attempts >= MAX_FAILED_ATTEMPTS) {
          await this.reject(entry, failure);
          continue;
        }
        this.log.warn(
          {
            id: entry.id,
            workflowId: entry.workflowId,
            attempts: entry.attempts,
            err: failure.message,
            code: failure.code,
          },
          'delivery failed; will retry this task later',
        );
        await this.release(
          entries.slice(i),
          failedRetryDelayMs(entry.attempts, this.random),
          failure.message,
        );
        return;
      }
      this.delivered(entry, outcome);
    }
  }

  private delivered(entry: InboxEntry, outcome: HandoffOutcome): void {
    if (this.temporal !== 'up') this.circuitClosed();
    this.consecutiveFailures = 0;
    this.opts.metrics?.deliveries.inc({ outcome: outcome.kind });
    const ageMs = Date.now() - Date.parse(entry.receivedAt);
    if (Number.isFinite(ageMs)) this.opts.metrics?.deliveryLatency.observe(Math.max(0, ageMs) / 1000);
    this.completions.push({
      id: entry.id,
      outcome: outcome.kind,
      ...(outcome.kind === 'accepted' && outcome.runId ? { runId: outcome.runId } : {}),
    });
    this.scheduleFlush();
  }

  private circuitOpen(failure: DeliveryFailure): void {
    this.consecutiveFailures += 1;
    this.lastFailure = failure;
    const state: TemporalState = failure.kind === 'waiting' ? 'waiting' : 'away';
    if (this.temporal !== state) {
      this.log[state === 'waiting' ? 'error' : 'warn'](
        { err: failure.message, code: failure.code },
        state === 'waiting'
          ? 'Temporal cannot take callbacks yet (search attributes, namespace or credentials); they stay in the inbox'
          : 'Temporal unavailable; callbacks stay in the inbox and the relay backs off',
      );
    }
    this.temporal = state;
    this.opts.metrics?.temporalReachable.set(0);
    if (
      state === 'waiting' &&
      this.opts.registerSearchAttributes &&
      Date.now() - this.lastRegistrationMs > 10_000
    ) {
      this.lastRegistrationMs = Date.now();
      this.opts
        .registerSearchAttributes()
        .catch((err: unknown) =>
          this.log.warn({ err: errorText(err) }, 'could not register the search attributes'),
        );
    }
  }

  private circuitClosed(): void {
    this.log.info({ after: this.lastFailure?.message }, 'Temporal takes callbacks again; draining the inbox');
    this.temporal = 'up';
    this.kicked = true;
    this.opts.metrics?.temporalReachable.set(1);
  }

  /** A method, so TypeScript does not narrow the state across awaits. */
  private isUp(): boolean {
    return this.temporal === 'up';
  }

  private backoffMs(): number {
    const ceiling = Math.min(
      this.backoff.maxMs,
      this.backoff.initialMs * 2 ** Math.max(0, this.consecutiveFailures - 1),
    );
    return Math.round(this.random() * ceiling);
  }

  private async release(entries: InboxEntry[], retryInMs: number, error: string | null): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.inbox.release(
        this.owner,
        entries.map((e) => e.id),
        retryInMs,
        error,
      );
      // Claimable at once (a later retry is the sweep's).
      if (retryInMs === 0) this.kick();
    } catch (err) {
      // The leases run out by themselves.
      this.log.warn(
        { err: errorText(err) },
        'could not give entries back to the inbox; their lease will expire',
      );
    }
  }

  private async reject(entry: InboxEntry, failure: DeliveryFailure): Promise<void> {
    const error = failure.code ? `${failure.code}: ${failure.message}` : failure.message;
    let parked: InboxEntry | null = null;
    try {
      parked = await this.inbox.reject(entry.id, error);
    } catch (err) {
      this.log.error(
        { id: entry.id, err: errorText(err) },
        'could not park a refused entry; it will be retried',
      );
      return;
    }
    if (!parked) return;
    this.log.error(
      { id: entry.id, workflowId: entry.workflowId, appId: entry.appId, taskId: entry.taskId, err: error },
      'Temporal refused a callback for good: parked as rejected',
    );
    await this.opts
      .onRejected?.(parked, failure)
      .catch((err: unknown) =>
        this.log.error({ id: entry.id, err: errorText(err) }, 'could not raise the callback_rejected alert'),
      );
  }

  private scheduleFlush(): void {
    if (this.completions.length >= COMPLETION_BATCH) void this.flushCompletions();
    else this.flushTimer ??= setTimeout(() => void this.flushCompletions(), COMPLETION_FLUSH_MS);
  }

  /**
   * Writes the completions gathered so far, one UPDATE per batch, one batch at a time; retried while
   * the database is away (until the relay stops: then the leases run out and the entries are
   * delivered again, which the lifecycle counts as repeats). Resolves when nothing is left.
   */
  private flushCompletions(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flushing ??= (async () => {
      while (this.completions.length > 0) {
        const batch = this.completions.splice(0, COMPLETION_BATCH);
        for (;;) {
          try {
            const kicksBefore = this.kicks;
            const completed = await this.inbox.complete(batch);
            // Their tasks' next entries waited behind the leases just written off. A kick during
            // the statement may have claimed before it committed (finding the task still leased),
            // and an entry recorded meanwhile is not in its snapshot: look again after it.
            if (completed.some((c) => c.waitingBehind) || this.kicks !== kicksBefore) this.kick();
            break;
          } catch (err) {
            if (!this.running) {
              this.log.warn(
                { err: errorText(err), entries: batch.length },
                'could not mark entries delivered before stopping',
              );
              break;
            }
            this.log.warn({ err: errorText(err) }, 'could not mark entries delivered yet; retrying');
            await sleep(DB_RETRY_MS);
          }
        }
      }
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Waits `ms`, or less when stopped or (if `kickable`) kicked or a task finished. */
  private idle(ms: number, kickable: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(), ms);
      const finish = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.wakeOnKick = false;
        resolve();
      };
      this.wake = finish;
      this.wakeOnKick = kickable;
    });
  }

  /** Wakes the loop waiting for a kick or a free slot, when it has a claim to make. */
  private wakeIfKickable(): void {
    if (this.wakeOnKick && (this.kicked || this.untilSweepMs() <= 0)) this.wake?.();
  }

  /** The sweep claims sweepIntervalMs after the last claim started. */
  private untilSweepMs(): number {
    return this.lastClaimAt + this.sweepIntervalMs - Date.now();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
