import { renderTask } from '../../src/cli/tasks';
import type { LifecycleStateDocument } from '../../workflows/definitions';

/** A stale task whose own stop arrived: billed to the stop, its stale_task alert resolved. */
const doc: LifecycleStateDocument = {
  appId: '111111',
  taskId: 'channel-1',
  userId: 'owner-1',
  workflowId: 'zego-transcode:111111:channel-1',
  runId: 'run-2',
  lifecycleId: 'zego-transcode:111111:channel-1:run-1',
  status: 'stopped',
  startedAt: '2026-11-01T00:00:00.000Z',
  stoppedAt: '2026-11-03T00:00:00.000Z',
  durationSeconds: 172_800,
  stopReason: 0,
  input: { StreamId: 'in' },
  outputs: [{ StreamId: 'out', Width: 1280, Height: 720 }],
  events: [],
  eventsOmitted: 0,
  billing: {
    status: 'finalized',
    billableSeconds: 172_800,
    billableMinutes: 2880,
    lines: [{ tier: 'hd', seconds: 172_800, minutes: 2880, cost: 72 }],
    currency: 'CNY',
    totalCost: 72,
    finalizedAt: '2026-11-02T00:00:01.000Z',
    revision: 2,
    amendedAt: '2026-11-03T00:00:02.000Z',
  },
  alerts: [
    {
      kind: 'stale_task',
      at: '2026-11-02T00:00:00.000Z',
      message: 'no transcode_stop within MAX_TASK_DURATION of the task becoming active',
      key: 'zego-transcode:111111:channel-1:run-1:stale_task',
      delivery: 'not_configured',
      resolvedAt: '2026-11-03T00:00:01.000Z',
      resolution:
        "the task's own transcode_stop arrived (Sequence 1, Timestamp 1793664000, StopReason 0): billed to it",
      resolutionDelivery: 'not_configured',
    },
  ],
  cleanup: { status: 'done' },
  followUps: [],
  maxSequence: 1,
  closed: false,
};

describe('tasks show', () => {
  it('says when a bill was amended to a stale task’s own stop, and when its alert was resolved', () => {
    const text = renderTask(doc);
    expect(text).toMatch(
      /^Billing +finalized: 2880 min, 72 CNY \(amended at 2026-11-03T00:00:02.000Z, revision 2\)$/m,
    );
    expect(text).toMatch(/^ {2}KIND +AT +DELIVERY +RESOLVED +MESSAGE$/m);
    expect(text).toMatch(
      /^ {2}stale_task +2026-11-02T00:00:00.000Z +not_configured +2026-11-03T00:00:01.000Z +no/m,
    );
  });

  it('keeps the usual layout for a bill never amended and alerts never resolved', () => {
    const plain = renderTask({
      ...doc,
      billing: { ...doc.billing, revision: undefined, amendedAt: undefined },
      alerts: [
        { ...doc.alerts[0], resolvedAt: undefined, resolution: undefined, resolutionDelivery: undefined },
      ],
    });
    expect(plain).toMatch(/^Billing +finalized: 2880 min, 72 CNY$/m);
    expect(plain).toMatch(/^ {2}KIND +AT +DELIVERY +MESSAGE$/m);
  });
});
