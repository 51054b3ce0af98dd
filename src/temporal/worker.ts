/**
 * Builds the lifecycle worker. In development the workflow code is bundled from source at start;
 * a prebuilt bundle (`workflowBundlePath`) skips that, as production and the tests do.
 */
import { NativeConnection, Worker, bundleWorkflowCode, type Logger } from '@temporalio/worker';
import type { Duration } from '@temporalio/common';
import { workerTracing, type Tracing } from '../telemetry';

export const WORKFLOWS_PATH = require.resolve('../../workflows');
/**
 * OpenTelemetry's workflow interceptors (workflows/tracing.ts), in the bundle of a tracing worker
 * only: each cached workflow loads its own copy of the OpenTelemetry modules (~0.3 MiB more per
 * cached lifecycle than the plain bundle). Their AsyncLocalStorage context per workflow, which made
 * the memory grow with the cache squared and crashed a large cache ("async hook stack has become
 * corrupted"), is replaced there by a synchronous one. Histories replay with and without them
 * (test/integration/tracing.test.ts), so turning tracing on or off needs no draining.
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../../workflows/tracing')];

export interface LifecycleWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** The lifecycle's activities plus the follow-ups this worker serves (createWorkerActivities). */
  activities: object;
  /**
   * Path of a bundle made by `bundleLifecycleWorkflows` (with `{ tracing: true }` for a tracing
   * worker); compiled from source when absent.
   */
  workflowBundlePath?: string;
  /** How long in-flight activities may finish after a shutdown request. */
  shutdownGraceTime?: Duration;
  identity?: string;
  /** Spans of activities and (through a sink) of the workflow; none without. */
  tracing?: Tracing | null;
  /**
   * Most workflows kept in the worker's cache (the SDK's `maxCachedWorkflows`). The cache is what a
   * worker's memory grows with; an evicted lifecycle is replayed from its short history on its
   * next callback. Default: the SDK's, derived from the V8 heap limit.
   */
  maxCachedWorkflows?: number;
}

export function createLifecycleWorker(opts: LifecycleWorkerOptions): Promise<Worker> {
  const tracing = workerTracing(opts.tracing);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    // A prebuilt bundle has its workflow interceptor modules (if any) in it already.
    ...(opts.workflowBundlePath
      ? { workflowBundle: { codePath: opts.workflowBundlePath } }
      : { workflowsPath: WORKFLOWS_PATH }),
    interceptors: {
      activity: tracing.activityInterceptors,
      ...(opts.workflowBundlePath || !opts.tracing ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }),
    },
    sinks: tracing.sinks,
    ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
}

/**
 * Bundles the workflow code once (webpack); the result is what `workflowBundlePath` loads. With
 * `tracing`, the bundle carries the OpenTelemetry workflow interceptors (a tracing worker's).
 */
export async function bundleLifecycleWorkflows(
  opts: { tracing?: boolean; logger?: Logger; workflowsPath?: string } = {},
): Promise<string> {
  const { code } = await bundleWorkflowCode({
    // `workflowsPath`: a module re-exporting these workflows plus others (the benchmarks' benchTrivial).
    workflowsPath: opts.workflowsPath ?? WORKFLOWS_PATH,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.tracing ? { workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES } : {}),
  });
  return code;
}
