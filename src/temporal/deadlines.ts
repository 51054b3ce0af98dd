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

/** Gives every call without a deadline one `ms` from its start (its retries share it). */
export function defaultDeadline(ms: number): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options.deadline ? options : { ...options, deadline: Date.now() + ms }));
}

/** The server's interceptors: the default deadline, then the SDK's own retry of transient errors. */
export function serverInterceptors(defaultDeadlineMs: number): Interceptor[] {
  return [defaultDeadline(defaultDeadlineMs), makeGrpcRetryInterceptor(defaultGrpcRetryOptions())];
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
