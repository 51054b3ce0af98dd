/**
 * Custom Keyword search attributes registered on a cluster's namespace (OperatorService, as
 * `temporal operator search-attribute create` does). On SQL visibility each one is an alias of a
 * pre-created column of the namespace, held in the namespace's metadata: usable only once every
 * service has refreshed its namespace cache (see namespace.ts, waitUntilUsable).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, isGrpcServiceError } from '@temporalio/client';

const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const INDEXED_VALUE_TYPE_KEYWORD = 2;

/** Adds those of `names` that are missing; returns them. */
export async function registerKeywordSearchAttributes(
  connection: Connection,
  namespace: string,
  names: string[],
  timeoutMs = 30_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      const present = new Set(Object.keys(listed.customAttributes ?? {}));
      const missing = names.filter((name) => !present.has(name));
      if (missing.length) {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: Object.fromEntries(missing.map((name) => [name, INDEXED_VALUE_TYPE_KEYWORD])),
        });
      }
      return missing;
    } catch (err) {
      // A concurrent caller (a worker starting up) added them first: fine.
      if (isGrpcServiceError(err) && err.code === GRPC_ALREADY_EXISTS) return [];
      // A namespace registered a moment ago: the operator API reads the namespace cache, which
      // may not know it yet ("Namespace <name> is not found.").
      if (!(isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) || Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}
