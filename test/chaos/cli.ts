/**
 * `npm run chaos [-- --full] [--seed S] [--keep]`: the chaos run of test/chaos/harness.ts outside
 * jest. Default: the CI size (200 lifecycles, a 155 s Temporal outage, 3 worker kills, 2 HTTP
 * server kills); `--full`: 2,000 lifecycles and a 10-minute outage. Exit code 0 when nothing was
 * lost and nothing was billed twice or wrongly, 1 otherwise.
 */
import { parseArgs } from 'node:util';
import { CHAOS_SIZES, chaosProblems, runChaos } from './harness';

const USAGE = `usage: npm run chaos [-- --full] [--seed S] [--keep]

  (default)   CI size: 200 lifecycles at 10 callbacks/s, a 155 s Temporal outage
              (longer than ZEGO's retry span), 3 worker SIGKILLs, 2 HTTP server
              SIGKILLs: mid-request and mid-relay (~5 min)
  --full      2,000 lifecycles at 15 callbacks/s and a 10-minute outage (~20 min)
  --seed S    replay the plan of an earlier run (its seed is printed)
  --keep      keep the run's directory (worker-N.log, server.log, the SQLite file)
  --help      this text

Environment: CHAOS_STRICT_BILLING=1 also fails on bill differences no receiver could avoid
(see test/chaos/README.md). Exit code 0 when nothing was lost, double-billed or billed wrongly;
1 otherwise; 2 on a usage error.
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        full: { type: 'boolean', default: false },
        seed: { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const size = values.full ? CHAOS_SIZES.full : CHAOS_SIZES.ci;
  const result = await runChaos({
    ...size,
    seed: values.seed,
    keepDir: values.keep,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const { simulation: sim, ledger, alerts } = result;
  const lines = [
    '',
    `chaos ${values.full ? 'full' : 'CI'} size, seed ${result.seed}, ${(result.durationMs / 1000).toFixed(0)} s`,
    `  lifecycles             ${result.tasks}`,
    `  callbacks / attempts   ${sim.callbacks} / ${sim.attempts}`,
    `  delivered first try    ${sim.deliveredFirstTry}`,
    `  delivered after retry  ${sim.deliveredAfterRetry} ${JSON.stringify(sim.deliveredAfterRetries)}`,
    `  given up (lost)        ${result.givenUp}`,
    `  status codes           ${JSON.stringify(sim.statusCounts)}`,
    `  Temporal outage        ${(result.outageMs / 1000).toFixed(1)} s`,
    `  worker SIGKILLs        ${result.events.filter((e) => e.what.includes('SIGKILLed (')).length} (+ ${result.unplannedWorkerExits} exits by itself)`,
    `  server SIGKILLs        mid-request (${result.inFlightAtServerKill} in flight), mid-relay (${result.leasedAtServerKill} entries leased)`,
    `  inbox at the end       ${result.inbox.delivered} delivered, ${result.inbox.pending} pending, ${result.inbox.rejected} rejected`,
    `  ledger rows            ${ledger.rows} for ${ledger.tasksBilled} lifecycles (double-billed: ${ledger.tasksWithMoreThanOneRow.length}, missing: ${ledger.tasksWithoutRow.length})`,
    `  billing mismatches     seconds ${ledger.secondsMismatches.length}, minutes per tier ${ledger.minutesMismatches.length}, not finalized ${ledger.notFinalized.length}`,
    `    of which explained    ${[...ledger.secondsMismatches, ...ledger.minutesMismatches].filter((m) => m.explainedBy).length} (lifecycles with an update acknowledged after the gap grace: ${ledger.lifecyclesWithLateUpdate}; with a re-signed copy first and its original after the linger: ${ledger.lifecyclesWithResignedCopyFirst})`,
    `  amended bills          ${ledger.amendedToEarlierOriginals} to earlier-signed originals that came after the outcome`,
    `  abnormal_stop alerts   ${alerts.abnormalRecorded} of ${alerts.abnormalExpected} expected, unexpected ${alerts.unexpected.length}`,
    `  timeline (stream s: outcomes of the attempts sent then; faults at ${result.events
      .filter((e) => e.atMs >= result.streamStartMs && /SIGKILL|back on/.test(e.what))
      .map(
        (e) =>
          `${((e.atMs - result.streamStartMs) / 1000).toFixed(0)} s ${e.what.split(' ').slice(0, 3).join(' ')}`,
      )
      .join('; ')})`,
    ...result.timeline.map((b) => `    ${String(b.fromS).padStart(4)} s  ${JSON.stringify(b.outcomes)}`),
    ...(values.keep ? [`  logs                   ${result.dir}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const problems = chaosProblems(result);
  for (const p of problems) process.stderr.write(`chaos: ${p}\n`);
  return problems.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
