/**
 * Makes sure the lifecycle's custom search attributes exist in a namespace. Idempotent and safe for
 * many workers starting at once; on Temporal Cloud (where the operator API refuses) it warns and
 * carries on, since those attributes are created in the Cloud UI or with tcld.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from '@temporalio/client';
import { isGrpcServiceError } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { searchAttributes } from '../../workflows/definitions';

/** A line logger, or anything with info/warn (a pino logger fits). */
export type SearchAttributeLogger =
  ((line: string) => void) | { info(message: string): void; warn(message: string): void };

export interface EnsureSearchAttributesResult {
  /** Added by this call. */
  created: string[];
  /** Already there (possibly added by a concurrent caller). */
  existing: string[];
  /** true when the operator API refused (Temporal Cloud): nothing was checked. */
  skipped: boolean;
}

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_UNAUTHENTICATED = 16;

/** `{ name: type }` for every key in `searchAttributes` (workflows/definitions.ts). */
export function requiredSearchAttributes(): Record<string, SearchAttributeType> {
  const out: Record<string, SearchAttributeType> = {};
  for (const key of Object.values(searchAttributes)) out[key.name] = key.type;
  return out;
}

/**
 * @param opts.namespaceWaitMs how long a namespace that does not exist yet (NOT_FOUND: a cluster's
 *   namespace registered a moment ago, or still to be) is waited for. Default 60 s.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  logger?: SearchAttributeLogger,
  opts: { namespaceWaitMs?: number } = {},
): Promise<EnsureSearchAttributesResult> {
  const info = (line: string) => emit(logger, 'info', line);
  const warn = (line: string) => emit(logger, 'warn', line);
  const wanted = requiredSearchAttributes();
  const names = Object.keys(wanted);
  const created: string[] = [];
  const maxAttempts = 8;
  const namespaceDeadline = Date.now() + (opts.namespaceWaitMs ?? 60_000);
  let namespaceMissing = false;

  for (let attempt = 1; ; attempt++) {
    let present: Record<string, number>;
    try {
      present = await listAttributes(connection, namespace);
    } catch (err) {
      if (isRefusal(err)) return cloudWarning(warn, namespace, names, err);
      if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND && Date.now() < namespaceDeadline) {
        if (!namespaceMissing) info(`namespace ${namespace} not found yet; waiting for it`);
        namespaceMissing = true;
        attempt = 0;
        await sleep(500);
        continue;
      }
      throw wrap(err, `cannot list search attributes of namespace ${namespace}`);
    }

    const missing: Record<string, number> = {};
    for (const [name, type] of Object.entries(wanted)) {
      const expected = encodeSearchAttributeIndexedValueType(type) as number;
      const actual = present[name];
      if (actual === undefined) {
        missing[name] = expected;
      } else if (actual !== expected) {
        throw new Error(
          `search attribute ${name} exists in namespace ${namespace} with type ${typeName(actual)}, ` +
            `but this service needs ${type}; remove or rename it`,
        );
      }
    }
    const missingNames = Object.keys(missing);
    if (missingNames.length === 0) {
      const existing = names.filter((name) => !created.includes(name));
      if (created.length) info(`search attributes added in namespace ${namespace}: ${created.join(', ')}`);
      return { created, existing, skipped: false };
    }

    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
      created.push(...missingNames);
      // Re-list: confirms they are visible, and catches anything a concurrent caller changed.
      continue;
    } catch (err) {
      if (isRefusal(err)) return cloudWarning(warn, namespace, names, err);
      // Someone else added (some of) them meanwhile, or a concurrent metadata update won the race:
      // re-list and add what is still missing.
      if (attempt >= maxAttempts) {
        throw wrap(err, `cannot add search attributes ${missingNames.join(', ')} to namespace ${namespace}`);
      }
      if (!(isGrpcServiceError(err) && err.code === GRPC_ALREADY_EXISTS)) {
        await sleep(Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }
}

/**
 * Whether callbacks can use the search attributes now: a visibility count filtered on every one of
 * them succeeds. Listing them is not enough: a cluster maps a newly added attribute through a
 * namespace cache refreshed every few seconds, and until then a signal-with-start carrying it is
 * refused ("no mapping defined for search attribute"), as is a query naming it.
 *
 * `unusable` says why not: `search_attributes` (not registered or not mapped yet: registering may
 * help), `namespace` (NOT_FOUND), or `other` (Temporal unreachable and the like).
 */
export async function searchAttributesUsable(
  connection: Connection,
  namespace: string,
): Promise<
  { usable: true } | { usable: false; unusable: 'search_attributes' | 'namespace' | 'other'; error: string }
> {
  const query = Object.keys(requiredSearchAttributes())
    .map((name) => `${name} = 'readiness-probe'`)
    .join(' AND ');
  try {
    await connection.workflowService.countWorkflowExecutions({ namespace, query });
    return { usable: true };
  } catch (err) {
    // Not ours to check (a restricted API key): the deliveries will tell.
    if (isRefusal(err) && !(isGrpcServiceError(err) && err.code === GRPC_UNAUTHENTICATED))
      return { usable: true };
    const error = messageOf(err);
    if (isGrpcServiceError(err) && err.code === GRPC_INVALID_ARGUMENT)
      return { usable: false, unusable: 'search_attributes', error };
    if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND)
      return { usable: false, unusable: 'namespace', error };
    return { usable: false, unusable: 'other', error };
  }
}

async function listAttributes(connection: Connection, namespace: string): Promise<Record<string, number>> {
  const response = await connection.operatorService.listSearchAttributes({ namespace });
  const out: Record<string, number> = {};
  for (const [name, type] of Object.entries(response.systemAttributes ?? {})) out[name] = type as number;
  for (const [name, type] of Object.entries(response.customAttributes ?? {})) out[name] = type as number;
  return out;
}

/** The operator API is not ours to use here (Temporal Cloud, or a restricted API key). */
function isRefusal(err: unknown): boolean {
  return (
    isGrpcServiceError(err) &&
    (err.code === GRPC_PERMISSION_DENIED ||
      err.code === GRPC_UNIMPLEMENTED ||
      err.code === GRPC_UNAUTHENTICATED)
  );
}

function cloudWarning(
  warn: (line: string) => void,
  namespace: string,
  names: string[],
  err: unknown,
): EnsureSearchAttributesResult {
  const wanted = requiredSearchAttributes();
  const list = names.map((name) => `${name} (${wanted[name]})`).join(', ');
  warn(
    `cannot check or register search attributes in namespace ${namespace} (${messageOf(err)}); ` +
      `on Temporal Cloud create them in the Cloud UI or with ` +
      `\`tcld namespace search-attributes add -n ${namespace} --sa "<Name>=Keyword"\`: ${list}`,
  );
  return { created: [], existing: [], skipped: true };
}

function typeName(value: number): string {
  const names = ['UNSPECIFIED', 'TEXT', 'KEYWORD', 'INT', 'DOUBLE', 'BOOL', 'DATETIME', 'KEYWORD_LIST'];
  return names[value] ?? String(value);
}

function emit(logger: SearchAttributeLogger | undefined, level: 'info' | 'warn', line: string): void {
  if (!logger) return;
  if (typeof logger === 'function') logger(level === 'warn' ? `warning: ${line}` : line);
  else logger[level](line);
}

function wrap(err: unknown, what: string): Error {
  return new Error(`${what}: ${messageOf(err)}`, { cause: err });
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
