/**
 * What the service should end up with for each simulated task, computed from the plan's ground truth
 * independently of the service's code: final status, times, and billable output-seconds per tier under
 * ZEGO's rule (each output on its own, per tier, seconds summed and rounded up to whole minutes).
 */
import type { TranscodeOutput } from '../zego/types';
import type { Plan, PlannedTask } from './plan';

export type ExpectedTier = 'audio' | 'sd' | 'hd' | 'fhd' | 'uhd';

export interface ExpectedTaskState {
  appId: string;
  taskId: string;
  userId: string;
  status: 'stopped' | 'aborted';
  stopReason: 0 | 1;
  startedAt: string;
  stoppedAt: string;
  durationSeconds: number;
  /** Highest Sequence of the lifecycle (its stop). */
  maxSequence: number;
  /** Output-seconds per tier. */
  billableSecondsByTier: Partial<Record<ExpectedTier, number>>;
  /** The same rounded up to whole minutes, per tier. */
  billableMinutesByTier: Partial<Record<ExpectedTier, number>>;
  billableSeconds: number;
  billableMinutes: number;
  /** The outputs in force at the stop. */
  outputs: TranscodeOutput[];
}

export function expectedStates(plan: Plan): ExpectedTaskState[] {
  return plan.tasks.map(expectedState);
}

export function expectedState(task: PlannedTask): ExpectedTaskState {
  const seconds: Partial<Record<ExpectedTier, number>> = {};
  task.segments.forEach((segment, i) => {
    const until = i + 1 < task.segments.length ? task.segments[i + 1].from : task.stopTimestamp;
    for (const output of segment.outputs) {
      const tier = tierOfResolution(output);
      seconds[tier] = (seconds[tier] ?? 0) + (until - segment.from);
    }
  });
  const minutes: Partial<Record<ExpectedTier, number>> = {};
  for (const [tier, s] of Object.entries(seconds) as [ExpectedTier, number][])
    minutes[tier] = Math.ceil(s / 60);
  const sum = (m: Partial<Record<ExpectedTier, number>>) =>
    Object.values(m).reduce((a, b) => a + (b ?? 0), 0);

  return {
    appId: task.appId,
    taskId: task.taskId,
    userId: task.userId,
    status: task.stopReason === 0 ? 'stopped' : 'aborted',
    stopReason: task.stopReason,
    startedAt: new Date(task.startTimestamp * 1000).toISOString(),
    stoppedAt: new Date(task.stopTimestamp * 1000).toISOString(),
    durationSeconds: task.stopTimestamp - task.startTimestamp,
    maxSequence: task.segments.length,
    billableSecondsByTier: seconds,
    billableMinutesByTier: minutes,
    billableSeconds: sum(seconds),
    billableMinutes: sum(minutes),
    outputs: task.segments[task.segments.length - 1]?.outputs ?? [],
  };
}

/** ZEGO's tiers by the short edge (shared doc §10): ≤360 sd, ≤720 hd, ≤1080 fhd, above uhd. */
function tierOfResolution(output: TranscodeOutput): ExpectedTier {
  const shortEdge = Math.min(output.Width ?? 0, output.Height ?? 0);
  if (shortEdge <= 360) return 'sd';
  if (shortEdge <= 720) return 'hd';
  if (shortEdge <= 1080) return 'fhd';
  return 'uhd';
}
