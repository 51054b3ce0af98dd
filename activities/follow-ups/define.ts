/**
 * The extension point: a business follow-up is an activity the lifecycle runs after billing,
 * declared here with its own timeout, retry policy and (optionally) task queue.
 */
import type { Logger } from 'pino';
import type { Env, WorkerConfig } from '../../src/config';
import type { FollowUpInput, FollowUpSpec } from '../../workflows/definitions';

export type { FollowUpInput, FollowUpSpec };

/** What a follow-up factory may use: the worker's configuration and environment, a logger, fetch. */
export interface FollowUpContext {
  config: Omit<WorkerConfig, 'role'>;
  /** The worker's environment, for a follow-up's own settings (e.g. its CRM's URL). */
  env: Env;
  logger: Logger;
  fetch: typeof fetch;
}

export interface FollowUp extends FollowUpSpec {
  /**
   * The implementation, when this worker serves the follow-up. Omit it when another team's worker
   * (any Temporal SDK language) serves the activity type `name` on `taskQueue`.
   */
  run?: (input: FollowUpInput) => Promise<void>;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;

export function defineFollowUp(followUp: FollowUp): FollowUp {
  if (!NAME.test(followUp.name)) {
    throw new Error(`follow-up name "${followUp.name}" must be a letter then letters, digits, _ . - (≤ 100)`);
  }
  if (!followUp.run && !followUp.taskQueue) {
    throw new Error(
      `follow-up "${followUp.name}" has no implementation: give it run() or the taskQueue that serves it`,
    );
  }
  return followUp;
}

/** The part of a follow-up the workflow needs (serializable: no function). */
export function specOf({ name, startToCloseTimeout, retry, taskQueue }: FollowUp): FollowUpSpec {
  return { name, startToCloseTimeout, ...(retry ? { retry } : {}), ...(taskQueue ? { taskQueue } : {}) };
}
