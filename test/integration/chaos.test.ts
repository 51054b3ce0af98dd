/**
 * Chaos at CI size (test/chaos/harness.ts; full size: `npm run chaos -- --full`): 200 simulated
 * ZEGO lifecycles with ZEGO's retry schedule (retryScale 1, retries spanning ≥ 62 s) while the
 * Temporal dev server is SIGKILLed for 155 s — longer than ZEGO's whole retry span, so only the
 * inbox can save the callbacks sent meanwhile — and restarted on the same port and SQLite file, the
 * worker is SIGKILLed three times and the HTTP server twice, mid-request and mid-relay (child
 * processes, restarted). Nothing may be lost, nothing billed twice, every bill the ground truth's.
 */
import { CHAOS_SIZES, chaosProblems, runChaos, type ChaosResult } from '../chaos/harness';

describe('chaos (CI size)', () => {
  let result: ChaosResult;

  beforeAll(async () => {
    result = await runChaos({
      ...CHAOS_SIZES.ci,
      workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE,
      log: process.env.CHAOS_VERBOSE ? (line) => process.stderr.write(`${line}\n`) : undefined,
    });
    const { simulation: sim, ledger } = result;
    process.stderr.write(
      `[chaos] seed ${result.seed}: ${result.tasks} lifecycles, ${sim.callbacks} callbacks, ${sim.attempts} attempts, ` +
        `${sim.deliveredAfterRetry} delivered after retries ${JSON.stringify(sim.deliveredAfterRetries)}, ` +
        `${result.givenUp} given up, statuses ${JSON.stringify(sim.statusCounts)}; outage ${(result.outageMs / 1000).toFixed(1)} s, ` +
        `${result.inFlightAtServerKill} request(s) in flight at the first server kill, ${result.leasedAtServerKill} leased entries at the second, ` +
        `${result.unplannedWorkerExits} unplanned worker exits; inbox ${JSON.stringify(result.inbox)}; ` +
        `${ledger.rows} ledger rows, ${ledger.tasksWithMoreThanOneRow.length} double-billed, ` +
        `${ledger.secondsMismatches.length + ledger.minutesMismatches.length} bill(s) off the ground truth ` +
        `(lifecycles with an update after the gap grace: ${ledger.lifecyclesWithLateUpdate}, with a re-signed copy first and its original after the linger: ` +
        `${ledger.lifecyclesWithResignedCopyFirst}); ${ledger.amendedToEarlierOriginals} bill(s) amended to earlier-signed originals; ` +
        `${(result.durationMs / 1000).toFixed(0)} s\n`,
    );
  }, 900_000);

  it('broke the service as planned: a ≥ 150 s Temporal outage, three worker kills, the server killed mid-request and mid-relay', () => {
    expect(result.outageMs).toBeGreaterThanOrEqual(150_000);
    expect(result.events.filter((e) => /worker \d+ SIGKILLed/.test(e.what))).toHaveLength(3);
    expect(result.inFlightAtServerKill).toBeGreaterThanOrEqual(1);
    expect(result.leasedAtServerKill).toBeGreaterThanOrEqual(1);
    // The faults were felt: callbacks were refused or cut off and then delivered by ZEGO's retries.
    expect(result.simulation.deliveredAfterRetry).toBeGreaterThan(0);
  });

  it('lost no callback, billed every lifecycle exactly once and exactly as the ground truth says', () => {
    expect(chaosProblems(result)).toEqual([]);
    expect(result.givenUp).toBe(0);
    // Everything acknowledged reached its lifecycle: nothing left in the inbox, nothing refused.
    expect(result.inbox).toMatchObject({ pending: 0, rejected: 0 });
    expect(result.ledger.rows).toBe(result.tasks);
    expect(result.ledger.tasksWithMoreThanOneRow).toEqual([]);
    // Every bill equals the ground truth, updates acknowledged after their stop included (the stop
    // waits for the Sequences missing before it). The only exception no receiver could avoid: a
    // re-signed copy acknowledged first and its earlier-signed original only after the outcome.
    // Those are counted and reported, and fail with CHAOS_STRICT_BILLING=1.
    const unexplained = (m: { explainedBy: string | null }) => m.explainedBy === null;
    expect(result.ledger.secondsMismatches.filter(unexplained)).toEqual([]);
    expect(result.ledger.minutesMismatches.filter(unexplained)).toEqual([]);
    expect(result.alerts.abnormalRecorded).toBe(result.alerts.abnormalExpected);
  });
});
