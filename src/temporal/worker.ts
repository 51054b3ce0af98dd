/**
 * Builds the lifecycle worker. In development the workflow code is bundled from source at start;
 * a prebuilt bundle (`workflowBundlePath`) skips that, as production and the tests do.
 */
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { Duration } from '@temporalio/common';

export const WORKFLOWS_PATH = require.resolve('../../workflows');

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
}

export function createLifecycleWorker(opts: LifecycleWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...(opts.workflowBundlePath
      ? { workflowBundle: { codePath: opts.workflowBundlePath } }
      : { workflowsPath: WORKFLOWS_PATH }),
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
}

/** Bundles the workflow code once (webpack); the result is what `workflowBundlePath` loads. */
export async function bundleLifecycleWorkflows(): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
  return code;
}
