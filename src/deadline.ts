/**
 * `promise`, or `onTimeout()`'s error once `deadlineAt` (epoch ms) has passed. The loser's outcome is
 * observed, so a late rejection is never unhandled; the work itself is not cancelled. A plain race:
 * no AsyncLocalStorage (src/temporal/deadlines.ts says why that matters).
 */
export async function beforeDeadline<T>(
  promise: Promise<T>,
  deadlineAt: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  promise.catch(() => undefined);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadlineAt - Date.now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
