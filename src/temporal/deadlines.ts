/**
 * Deadlines for the server's Temporal calls without AsyncLocalStorage.
 *
 * The SDK's `withDeadline` (and `withMetadata`, `withAbortSignal`) run their callback inside an
 * AsyncLocalStorage. On Node 20 the first such run turns on async hooks for the whole process, and
 * from then on every promise pays for them: promise-heavy code (Express 5, node-postgres, ours)
 * costs about twice the CPU (measured: 265 → 575 ms for 3 million awaits). So the server never
 * calls them:
 *
 * - every RPC gets a deadline from a gRPC interceptor (`defaultDeadline`), so none can hang;
 * - an operation that needs a tighter bound races it with `within` (the RPC then runs on to its
 *   own deadline, answered or not, and is dropped).
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { beforeDeadline } from '../deadline';
import { TemporalUnavailableError } from '../http/ports';

/**
 * Gives every call without a deadline one `ms` from its start (its retries share it), or
 * `perMethod[name]` for the methods named there (gRPC method names, e.g.
 * `SignalWithStartWorkflowExecution`).
 */
export function defaultDeadline(ms: number, perMethod: Record<string, number> = {}): Interceptor {
  return (options, nextCall) => {
    if (options.deadline) return new InterceptingCall(nextCall(options));
    const method = methodName(options.method_definition.path);
    return new InterceptingCall(nextCall({ ...options, deadline: Date.now() + (perMethod[method] ?? ms) }));
  };
}

const SIGNAL_WITH_START = 'SignalWithStartWorkflowExecution';

/** `/temporal.api.workflowservice.v1.WorkflowService/SignalWithStartWorkflowExecution` → its last part. */
function methodName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The server's interceptors (the calls in flight, the default deadline, then the SDK's own retry
 * of transient errors) and a drain for shutdown.
 *
 * With the inbox, a signal-with-start is not retried inside the call (`relayRetries`): the relay
 * retries it itself, with its circuit and backoff. Retried inside, an attempt would last its whole
 * deadline while Temporal is away, the relay would not learn of the outage meanwhile (and keep
 * starting attempts), and an attempt still retrying when Temporal comes back would land after the
 * backlog built behind it had been claimed in Sequence order: a task's stop before its start.
 *
 * Why the drain: the SDK's retry schedules its next attempt on a timer and creates that call on
 * the channel when the timer fires; if the connection was closed meanwhile, grpc-js throws
 * "Channel has been shut down" from the timer, an uncaught exception. So `drain()` stops further
 * retries and waits (bounded by the calls' own deadline) until every call has its final status;
 * only then is the connection closed.
 */
export class ServerCalls {
  private inFlight = 0;
  private closing = false;
  private idle: (() => void)[] = [];

  /**
   * @param handoffTimeoutMs the deadline of a signal-with-start (a callback's hand-off): the RPC
   *   ends when the hand-off gives up on it. Were it to run on, the SDK's retry could still deliver
   *   it after a relay had given the entry back, and the relay would deliver it a second time.
   */
  constructor(
    private readonly defaultDeadlineMs: number,
    private readonly handoffTimeoutMs: number,
    private readonly opts: { relayRetries?: boolean } = {},
  ) {}

  interceptors(): Interceptor[] {
    const retry = defaultGrpcRetryOptions();
    const retrying = makeGrpcRetryInterceptor({
      delayFunction: retry.delayFunction,
      retryableDecider: (attempt, status) => !this.closing && retry.retryableDecider(attempt, status),
    });
    return [
      this.counted(),
      defaultDeadline(this.defaultDeadlineMs, { [SIGNAL_WITH_START]: this.handoffTimeoutMs }),
      this.opts.relayRetries
        ? (options, nextCall) =>
            methodName(options.method_definition.path) === SIGNAL_WITH_START
              ? new InterceptingCall(nextCall(options))
              : retrying(options, nextCall)
        : retrying,
    ];
  }

  /** Resolves once no call is in flight (at most the default deadline and a second from now). */
  async drain(): Promise<void> {
    this.closing = true;
    if (this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idle.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.defaultDeadlineMs + 1_000);
      }),
    ]);
    clearTimeout(timer);
  }

  private counted(): Interceptor {
    return (options, nextCall) =>
      new InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => {
          this.inFlight++;
          let settled = false;
          next(metadata, {
            onReceiveStatus: (status, nextStatus) => {
              if (!settled) {
                settled = true;
                if (--this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
              }
              nextStatus(status);
            },
          });
        },
      });
  }
}

/** `fn()`, or a TemporalUnavailableError once `ms` have passed (the call is left to its own deadline). */
export function within<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  return beforeDeadline(
    fn(),
    Date.now() + ms,
    () => new TemporalUnavailableError(`${what}: no answer within ${Math.max(0, Math.round(ms))} ms`),
  );
}

/**
 * The SDK puts the namespace header on every call through `withMetadata`, an AsyncLocalStorage
 * run (see above). The store is read only while the call is being created, synchronously inside
 * that run, so the storage can be switched off again as soon as the run returns: async hooks then
 * stay off between calls instead of taxing every promise of the process for good.
 */
export function keepCallContextCheap(connection: { callContextStorage: AsyncLocalStorage<unknown> }): void {
  const storage = connection.callContextStorage;
  const run = storage.run.bind(storage) as (store: unknown, fn: () => unknown) => unknown;
  const cheapRun = (store: unknown, fn: () => unknown): unknown => {
    try {
      return run(store, fn);
    } finally {
      storage.disable();
    }
  };
  storage.run = cheapRun as AsyncLocalStorage<unknown>['run'];
}
