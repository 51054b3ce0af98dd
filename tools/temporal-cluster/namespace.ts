/**
 * A namespace on a fresh cluster: registered through the frontend's RegisterNamespace (what
 * `temporal operator namespace create` does), then waited for until it takes a workflow start.
 * A real server reads namespaces through a cache that is refreshed every few seconds, so "described"
 * is not yet "usable" (the dev server creates its namespaces before it starts serving).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { msToTs } from '@temporalio/common/lib/time';
import type { Logger } from './binaries';

const GRPC_ALREADY_EXISTS = 6;
const DAY: Duration = '24h';

export async function registerNamespace(
  connection: Connection,
  namespace: string,
  retention: Duration = DAY,
): Promise<'created' | 'existed'> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(retention),
      description: 'registered by tools/temporal-cluster',
    });
    return 'created';
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === GRPC_ALREADY_EXISTS) return 'existed';
    throw err;
  }
}

/**
 * Starts (and terminates) a throwaway workflow, and lists with a query on the given search
 * attributes, until both succeed; returns how long that took and the first error seen.
 */
export async function waitUntilUsable(opts: {
  connection: Connection;
  namespace: string;
  searchAttributes?: string[];
  timeoutMs: number;
  logger?: Logger;
}): Promise<{ ms: number; attempts: number; firstError: string | null }> {
  const log = opts.logger ?? (() => undefined);
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const names = opts.searchAttributes ?? [];
  let firstError: string | null = null;
  let lastError = '';
  for (let attempt = 1; ; attempt++) {
    try {
      await probeOnce(opts.connection, opts.namespace, names);
      return { ms: Date.now() - started, attempts: attempt, firstError };
    } catch (err) {
      lastError = describe(err);
      if (firstError === null) {
        firstError = lastError;
        log(`namespace ${opts.namespace} not usable yet: ${lastError}`);
      }
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `namespace ${opts.namespace} not usable after ${Math.round(opts.timeoutMs / 1000)}s: ${lastError}`,
      );
    }
    await sleep(250);
  }
}

async function probeOnce(connection: Connection, namespace: string, names: string[]): Promise<void> {
  const workflowId = `temporal-cluster-probe-${randomUUID()}`;
  const indexedFields = Object.fromEntries(
    names.map((name) => [
      name,
      {
        metadata: { encoding: Buffer.from('json/plain'), type: Buffer.from('Keyword') },
        data: Buffer.from(JSON.stringify('probe')),
      },
    ]),
  );
  await connection.withDeadline(Date.now() + 5_000, async () => {
    await connection.workflowService.startWorkflowExecution({
      namespace,
      workflowId,
      workflowType: { name: 'temporal-cluster-probe' },
      taskQueue: { name: 'temporal-cluster-probe' },
      requestId: randomUUID(),
      searchAttributes: names.length ? { indexedFields } : undefined,
    });
    await connection.workflowService.terminateWorkflowExecution({
      namespace,
      workflowExecution: { workflowId },
      reason: 'probe',
    });
    if (names.length) {
      await connection.workflowService.listWorkflowExecutions({
        namespace,
        pageSize: 1,
        query: names.map((name) => `${name} = 'probe'`).join(' AND '),
      });
    }
  });
}

/** `<gRPC code name> (<code>): <message>`, the way the service would see it. */
export function describe(err: unknown): string {
  // The SDK wraps a refused call ("Failed to signalWithStart Workflow"): the gRPC error is its cause.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (isGrpcServiceError(e)) err = e;
  }
  if (isGrpcServiceError(err)) {
    const name = GRPC_CODE_NAMES[err.code] ?? String(err.code);
    return `${name} (${err.code}): ${err.details || err.message}`;
  }
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

const GRPC_CODE_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};
