/**
 * Builds the lifecycle worker. In development the workflow code is bundled from source at start;
 * a prebuilt bundle (`workflowBundlePath`) skips that, as production and the tests do.
 */
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { Duration } from '@temporalio/common';
import { workerTracing, type Tracing } from '../telemetry';

export const WORKFLOWS_PATH = require.resolve('../../workflows');
/**
 * In every bundle, tracing or not: OpenTelemetry's workflow interceptors. Without a trace context
 * or an exporter they only make spans the worker's sink drops (see workflows/tracing.ts).
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../../workflows/tracing')];

export interface LifecycleWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** The lifecycle's activities plus the follow-ups this worker serves (createWorkerActivities). */
  activities: object;
  /** Path of a bundle made by `bundleLifecycleWorkflows`; compiled from source when absent. */
  workflowBundlePath?: string;
  /** How long in-flight activities may finish after a shutdown request. */
  shutdownGraceTime?: Duration;
  identity?: string;
  /** Spans of activities and (through a sink) of the workflow; none without. */
  tracing?: Tracing | null;
}

export function createLifecycleWorker(opts: LifecycleWorkerOptions): Promise<Worker> {
  const tracing = workerTracing(opts.tracing);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    // A prebuilt bundle has the workflow interceptor modules in it already.
    ...(opts.workflowBundlePath
      ? { workflowBundle: { codePath: opts.workflowBundlePath } }
      : { workflowsPath: WORKFLOWS_PATH }),
    interceptors: {
      activity: tracing.activityInterceptors,
      ...(opts.workflowBundlePath ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }),
    },
    sinks: tracing.sinks,
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
}

/** Bundles the workflow code once (webpack); the result is what `workflowBundlePath` loads. */
export async function bundleLifecycleWorkflows(): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
  });
  return code;
}
