/**
 * Running lifecycles keep replaying on newer workflow code. The histories under
 * test/fixtures/histories/pre-*.json were recorded (test/fixtures/histories/record.ts) with the
 * workflow as it was before a change behind `patched()`: `pre-stale-*` before a stale lifecycle
 * waited for its own stop, `pre-earlier-original-*` before an earlier-signed original arriving
 * after the outcome amended the bill. A worker with today's code must replay each of them without
 * a nondeterminism error.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { readHistoryFile } from '../helpers/histories';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'histories');
const preChange = readdirSync(FIXTURES).filter((name) => /^pre-.*\.json$/.test(name));

describe('replay of histories recorded by older workflow code', () => {
  it('has the recorded histories', () => {
    expect(preChange.sort()).toEqual([
      'pre-earlier-original-start.json',
      'pre-stale-api-stop.json',
      'pre-stale-closed.json',
      'pre-stale-late-stop.json',
    ]);
  });

  it.each(preChange)('%s replays without nondeterminism', async (name) => {
    const history = readHistoryFile(path.join(FIXTURES, name));
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } }, history),
    ).resolves.toBeUndefined();
  });
});
