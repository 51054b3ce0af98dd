/**
 * Registered business follow-ups: ONE LINE EACH below. A factory returns null when it is not
 * configured. The lifecycle workflow runs every registered follow-up after billing (see
 * docs/extending.md); adding one needs no change to the workflow.
 */
import { Context } from '@temporalio/activity';
import { specOf, type FollowUp, type FollowUpContext, type FollowUpInput } from './define';
import { taskFinishedWebhook } from './task-finished-webhook';

export { defineFollowUp, type FollowUp, type FollowUpContext, type FollowUpInput } from './define';

export function registeredFollowUps(ctx: FollowUpContext): FollowUp[] {
  return [
    taskFinishedWebhook(ctx),
    // myFollowUp(ctx),
  ].filter((f): f is FollowUp => f !== null);
}

/** Activities of the follow-ups this worker serves; each reports the attempt that succeeded. */
export function followUpActivities(
  followUps: readonly FollowUp[],
  reserved: readonly string[],
): Record<string, (input: FollowUpInput) => Promise<{ attempt: number }>> {
  const activities: Record<string, (input: FollowUpInput) => Promise<{ attempt: number }>> = {};
  for (const followUp of followUps) {
    if (reserved.includes(followUp.name) || followUp.name in activities) {
      throw new Error(`follow-up name "${followUp.name}" is already taken`);
    }
    const run = followUp.run;
    if (!run) continue;
    activities[followUp.name] = async (input) => {
      await run(input);
      return { attempt: Context.current().info.attempt };
    };
  }
  return activities;
}

export { specOf };
