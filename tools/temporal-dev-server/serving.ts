import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';

/**
 * Polls with fresh connections (a reused gRPC channel backs off for seconds) until the namespace
 * answers; gives up at once when the process exits.
 */
export async function waitUntilServing(
  address: string,
  namespace: string,
  timeoutMs: number,
  exit: Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  let hasExited = false;
  const exited = exit.then(() => {
    hasExited = true;
    return 'exited' as const;
  });
  const attempt = async (budget: number): Promise<'ok'> => {
    let connection: Connection | null = null;
    try {
      connection = await Connection.connect({ address, connectTimeout: budget });
      const conn = connection;
      await conn.withDeadline(Date.now() + budget, async () => {
        await conn.workflowService.getSystemInfo({});
        await conn.workflowService.describeNamespace({ namespace });
      });
      return 'ok';
    } finally {
      await connection?.close().catch(() => undefined);
    }
  };
  while (Date.now() < deadline && !hasExited) {
    const budget = Math.max(500, Math.min(3_000, deadline - Date.now()));
    const outcome = await Promise.race([attempt(budget), exited]).catch((err: unknown) => {
      lastError = ((err as Error)?.message ?? String(err)).split('\n')[0] ?? '';
      return 'failed' as const;
    });
    if (outcome === 'ok') return;
    if (outcome === 'exited') break;
    await Promise.race([sleep(200), exited]);
  }
  if (hasExited) throw new Error('process exited');
  throw new Error(`not answering after ${Math.round(timeoutMs / 1000)}s (last error: ${lastError})`);
}
