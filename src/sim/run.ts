/**
 * runSimulation: plan the callbacks, deliver them like ZEGO, and report how that went together with the
 * final state each task should reach. The programmatic entry point for benchmarks and chaos tests.
 */
import { expectedStates } from './expected';
import { resolveOptions, type ResolvedOptions, type SimulationOptions } from './options';
import { buildPlan, type Plan } from './plan';
import { lostCallbacks, summarize, type SimulationReport } from './report';
import { sendCallbacks } from './sender';

/** The plan a run with these options sends (same seed and nowMs: same plan). */
export function planSimulation(options: SimulationOptions | ResolvedOptions): Plan {
  const o = 'callbackUrl' in options ? options : resolveOptions(options);
  return buildPlan({
    seed: o.seed,
    appId: o.appId,
    secret: o.secret,
    tasks: o.tasks,
    maxUpdates: o.updates,
    durationSeconds: o.durationSeconds,
    abnormalShare: o.abnormalShare,
    buggyStatusShare: o.buggyStatusShare,
    duplicateRate: o.duplicateRate,
    resignRate: o.resignRate,
    reorderRate: o.reorderRate,
    lateRate: o.lateRate,
    lateDelayMs: o.lateDelayMs,
    encoding: o.encoding,
    nowMs: o.nowMs,
    ratePerSecond: o.ratePerSecond,
    // At a slow rate fewer tasks overlap, so each task's callbacks go out within seconds of each other.
    interleave: o.ratePerSecond ? Math.min(16, Math.max(1, Math.floor(o.ratePerSecond * 2))) : 16,
    taskIdPrefix: o.taskIdPrefix,
  });
}

/** Throws SimulationOptionsError on bad options; never throws for what the service answers. */
export async function runSimulation(options: SimulationOptions): Promise<SimulationReport> {
  const o = resolveOptions(options);
  const plan = planSimulation(o);
  const sent = await sendCallbacks(plan.callbacks, {
    url: o.callbackUrl,
    concurrency: o.concurrency,
    timeoutMs: o.timeoutMs,
    retryScale: o.retryScale,
    ratePerSecond: o.ratePerSecond,
  });
  return { summary: summarize(plan, sent), expected: expectedStates(plan), lost: lostCallbacks(plan, sent) };
}
