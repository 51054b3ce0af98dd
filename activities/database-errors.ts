/**
 * Which database errors no retry can fix. An activity that meets one fails non-retryably
 * (`DatabaseRejected`), so the workflow alerts instead of Temporal retrying it for ever:
 *
 * - class 22, data exception (invalid byte sequence 22021, numeric out of range 22003, an
 *   untranslatable character 22P05, …): the same values fail the same way every time;
 * - class 23, integrity constraint violation: the stores absorb their idempotency keys with
 *   `ON CONFLICT`, so one that still reaches an activity is not a race but a value that can never
 *   be written.
 *
 * Everything else (connection loss, timeouts, serialization failures, a database that is starting)
 * stays retryable.
 */
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryableErrorType } from '../workflows/errors';

/** The SQLSTATE of a PostgreSQL error (node-postgres and PGlite both set `code`), or undefined. */
export function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isPermanentDatabaseError(err: unknown): boolean {
  const state = sqlStateOf(err);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** Runs `fn`; a permanent database error becomes a non-retryable failure naming the SQLSTATE. */
export function withDatabaseErrors<A extends unknown[], R>(
  name: string,
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      if (!isPermanentDatabaseError(err)) throw err;
      const state = sqlStateOf(err);
      const message = err instanceof Error ? err.message : String(err);
      throw ApplicationFailure.nonRetryable(
        `${name}: the database refused the values (SQLSTATE ${state}): ${message}`,
        NonRetryableErrorType.DatabaseRejected,
        { sqlState: state },
      );
    }
  };
}
