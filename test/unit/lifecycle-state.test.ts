import type { CallbackSignalPayload } from '../../workflows/definitions';
import {
  applyCallback,
  awaitsOwnStop,
  billingEndMs,
  billingSegments,
  callbackKey,
  decidedByCallbacks,
  initialState,
  missingSequences,
  nextTimer,
  sequenceGapDeadlineMs,
  statusOf,
  toDocument,
  type LifecycleState,
} from '../../workflows/state';

const T0 = 1_700_000_000; // seconds, as ZEGO sends them
const HD = [{ StreamId: 'out', Width: 1280, Height: 720 }];
const FHD = [{ StreamId: 'out', Width: 1920, Height: 1080 }];

function fresh(): LifecycleState {
  return initialState({
    appId: '111',
    taskId: 't1',
    workflowId: 'zego-transcode:111:t1',
    lifecycleId: 'lc-1',
  });
}

function start(over: Partial<CallbackSignalPayload> = {}): CallbackSignalPayload {
  return {
    event: 'transcode_start',
    appId: '111',
    taskId: 't1',
    userId: 'u1',
    sequence: 0,
    status: 'TranscodeStarted',
    timestamp: String(T0),
    nonce: '1',
    input: { StreamId: 'in' },
    outputs: HD,
    receivedAt: '2023-11-14T22:13:20.000Z',
    ...over,
  };
}

function update(seq: number, atSeconds: number, outputs = FHD): CallbackSignalPayload {
  return start({
    sequence: seq,
    status: 'TranscodeUpdated',
    timestamp: String(atSeconds),
    outputs,
    nonce: `u${seq}`,
  });
}

function stop(over: Partial<CallbackSignalPayload> = {}): CallbackSignalPayload {
  return {
    event: 'transcode_stop',
    appId: '111',
    taskId: 't1',
    userId: 'u1',
    sequence: 1,
    status: 'TranscodeStopped',
    stopReason: 0,
    timestamp: String(T0 + 600),
    nonce: '2',
    receivedAt: '2023-11-14T22:23:20.000Z',
    ...over,
  };
}

describe('lifecycle state machine', () => {
  it('start then stop: running, then stopped with the duration from ZEGO timestamps', () => {
    const s = fresh();
    expect(statusOf(s)).toBe('awaiting_start');
    expect(applyCallback(s, start(), 0)).toBe('applied');
    expect(statusOf(s)).toBe('running');
    expect(decidedByCallbacks(s)).toBeNull();
    expect(applyCallback(s, stop(), 0)).toBe('applied');
    expect(decidedByCallbacks(s)).toBe('stopped');
    s.outcome = 'stopped';
    const doc = toDocument(s, 'run-1', false);
    expect(doc).toMatchObject({
      status: 'stopped',
      startedAt: '2023-11-14T22:13:20.000Z',
      stoppedAt: '2023-11-14T22:23:20.000Z',
      durationSeconds: 600,
      stopReason: 0,
      userId: 'u1',
      input: { StreamId: 'in' },
      outputs: HD,
      maxSequence: 1,
    });
    expect(doc.events).toHaveLength(2);
    expect(doc.events[0]).not.toHaveProperty('key');
  });

  it('stop before start: awaiting_start, the orphan grace starts when the stop arrives', () => {
    const s = fresh();
    applyCallback(s, stop(), 42_000);
    expect(statusOf(s)).toBe('awaiting_start');
    expect(s.stopReceivedAtMs).toBe(42_000);
    expect(decidedByCallbacks(s)).toBeNull();
    applyCallback(s, start(), 50_000);
    expect(decidedByCallbacks(s)).toBe('stopped');
  });

  it('StopReason 1 is an abnormal stop', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, stop({ stopReason: 1 }), 0);
    expect(decidedByCallbacks(s)).toBe('aborted');
  });

  it("routes on Event: ZEGO's stop example says Status TranscodeStarted", () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, stop({ status: 'TranscodeStarted', sequence: 0 }), 0);
    expect(s.stop).not.toBeNull();
    expect(decidedByCallbacks(s)).toBe('stopped');
  });

  it('counts each distinct callback once and every delivery', () => {
    const s = fresh();
    expect(applyCallback(s, start(), 0)).toBe('applied');
    expect(applyCallback(s, start({ nonce: 'resigned', timestamp: String(T0 + 3) }), 0)).toBe('duplicate');
    expect(applyCallback(s, start(), 0)).toBe('duplicate');
    expect(s.events).toHaveLength(1);
    expect(s.events[0].deliveries).toBe(3);
    expect(s.start?.timestamp).toBe(String(T0));
  });

  it('an update opens a billing segment and changes the outputs', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, update(1, T0 + 300), 0);
    applyCallback(s, stop({ sequence: 2 }), 0);
    s.outcome = decidedByCallbacks(s);
    expect(toDocument(s, 'r', false).outputs).toEqual(FHD);
    // Segments keep what decides the tier; the document shows the outputs as ZEGO sent them.
    expect(billingSegments(s).map((x) => [x.fromMs, x.outputs])).toEqual([
      [T0 * 1000, [{ Width: 1280, Height: 720 }]],
      [(T0 + 300) * 1000, [{ Width: 1920, Height: 1080 }]],
    ]);
    expect(billingEndMs(s)).toBe((T0 + 600) * 1000);
  });

  it('the document lists the billing segments with their ends (open while running)', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, update(1, T0 + 300), 0);
    const iso = (sec: number) => new Date(sec * 1000).toISOString();
    expect(toDocument(s, 'r', false).segments).toEqual([
      { from: iso(T0), until: iso(T0 + 300), sequence: 0, outputs: [{ Width: 1280, Height: 720 }] },
      { from: iso(T0 + 300), until: null, sequence: 1, outputs: [{ Width: 1920, Height: 1080 }] },
    ]);
    applyCallback(s, stop({ sequence: 2, timestamp: String(T0 + 200) }), 0);
    s.outcome = decidedByCallbacks(s);
    // A segment opened after the stop lasts nothing and bills nothing.
    expect(toDocument(s, 'r', false).segments?.map((x) => [x.from, x.until])).toEqual([
      [iso(T0), iso(T0 + 200)],
      [iso(T0 + 300), iso(T0 + 300)],
    ]);
  });

  it('an update before its start is kept and clamped to the start', () => {
    const s = fresh();
    applyCallback(s, update(1, T0 - 5), 0);
    expect(statusOf(s)).toBe('awaiting_start');
    applyCallback(s, start(), 0);
    expect(statusOf(s)).toBe('running');
    expect(billingSegments(s).map((x) => x.fromMs)).toEqual([T0 * 1000, T0 * 1000]);
  });

  it('an update without outputs changes nothing billable', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, start({ sequence: 1, status: 'TranscodeUpdated', outputs: undefined }), 0);
    expect(s.segments).toHaveLength(1);
  });

  it('a start with a higher Sequence after the stop belongs to the next lifecycle', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, stop(), 0);
    const next = start({ sequence: 5, nonce: 'n5' });
    expect(applyCallback(s, next, 0)).toBe('next_lifecycle');
    expect(applyCallback(s, { ...next, nonce: 'again' }, 0)).toBe('duplicate');
    expect(s.nextLifecycle).toHaveLength(1);
    expect(s.events).toHaveLength(2);
  });

  it('after the outcome, a late callback of this lifecycle is history only', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, stop({ sequence: 3 }), 0);
    s.outcome = 'stopped';
    expect(applyCallback(s, update(2, T0 + 100), 0)).toBe('applied');
    expect(s.segments).toHaveLength(1);
    expect(s.events).toHaveLength(3);
    expect(s.maxSequence).toBe(3);
    expect(applyCallback(s, stop({ sequence: 9, nonce: 'x' }), 0)).toBe('next_lifecycle');
  });

  it('a stale outcome bills up to the stale deadline', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    s.outcome = 'stale';
    s.staleAtMs = T0 * 1000 + 86_400_000;
    expect(billingEndMs(s)).toBe(T0 * 1000 + 86_400_000);
    expect(statusOf(s)).toBe('stale');
  });

  it('millisecond timestamps are read as milliseconds', () => {
    const s = fresh();
    applyCallback(s, start({ timestamp: String(T0 * 1000) }), 0);
    applyCallback(s, stop({ timestamp: String((T0 + 61) * 1000) }), 0);
    expect(toDocument(s, 'r', false).durationSeconds).toBe(61);
  });

  it('callbackKey is (Event, Sequence, Status)', () => {
    expect(callbackKey(start())).toBe('transcode_start:0:TranscodeStarted');
    expect(callbackKey(stop())).toBe('transcode_stop:1:TranscodeStopped');
  });
});

describe('a stale lifecycle waiting for its own stop', () => {
  const STALE_AT_MS = (T0 + 1200) * 1000;
  /** Started at T0, declared stale at its 20-minute deadline, waiting (as the workflow sets it). */
  function staleWaiting(): LifecycleState {
    const s = fresh();
    applyCallback(s, start(), 0);
    s.outcome = 'stale';
    s.staleAtMs = STALE_AT_MS;
    s.ownStopUntilMs = 7 * 86_400_000;
    return s;
  }

  it('the task’s stop with a newer Sequence is its own: it completes the lifecycle', () => {
    const s = staleWaiting();
    expect(awaitsOwnStop(s)).toBe(true);
    const own = stop({ sequence: 1, timestamp: String(T0 + 36_000) });
    expect(applyCallback(s, own, 5_000)).toBe('applied');
    expect(s.nextLifecycle).toEqual([]);
    expect(s.stop).toMatchObject({ sequence: 1, ms: (T0 + 36_000) * 1000, stopReason: 0 });
    expect(s.stopReceivedAtMs).toBe(5_000);
    expect(s.maxSequence).toBe(1);
    expect(decidedByCallbacks(s)).toBe('stopped');
    // Still stale (billed to the deadline) until the workflow ends the wait.
    expect(statusOf(s)).toBe('stale');
    expect(billingEndMs(s)).toBe(STALE_AT_MS);
    expect(applyCallback(s, { ...own, nonce: 'again' }, 6_000)).toBe('duplicate');
    expect(s.events.find((e) => e.event === 'transcode_stop')?.deliveries).toBe(2);

    s.outcome = 'stopped';
    s.ownStopUntilMs = null;
    expect(billingEndMs(s)).toBe((T0 + 36_000) * 1000);
    expect(toDocument(s, 'r', false)).toMatchObject({
      status: 'stopped',
      stoppedAt: new Date((T0 + 36_000) * 1000).toISOString(),
      durationSeconds: 36_000,
      stopReason: 0,
    });
    // Once completed, later callbacks are history or the next lifecycle, as after any stop.
    expect(applyCallback(s, update(2, T0 + 40_000), 0)).toBe('next_lifecycle');
  });

  it('an abnormal own stop (StopReason 1) decides aborted', () => {
    const s = staleWaiting();
    applyCallback(s, stop({ sequence: 1, stopReason: 1, timestamp: String(T0 + 7200) }), 0);
    expect(decidedByCallbacks(s)).toBe('aborted');
  });

  it('updates sent after the stale deadline still open billing segments, up to the stop', () => {
    const s = staleWaiting();
    expect(applyCallback(s, update(1, T0 + 1800, FHD), 0)).toBe('applied');
    expect(s.outputs).toEqual(FHD);
    applyCallback(s, stop({ sequence: 2, timestamp: String(T0 + 3600) }), 0);
    expect(billingSegments(s).map((seg) => [seg.fromMs, seg.outputs])).toEqual([
      [T0 * 1000, [{ Width: 1280, Height: 720 }]],
      [(T0 + 1800) * 1000, [{ Width: 1920, Height: 1080 }]],
    ]);
    expect(missingSequences(s)).toEqual([]);
  });

  it('a new start with a newer Sequence is the task’s next lifecycle, not this one’s stop', () => {
    const s = staleWaiting();
    const next = start({ sequence: 1, nonce: 'next', timestamp: String(T0 + 90_000) });
    expect(applyCallback(s, next, 0)).toBe('next_lifecycle');
    expect(s.nextLifecycle).toEqual([next]);
    expect(s.start?.sequence).toBe(0);
    expect(s.stop).toBeNull();
  });

  it('a stop whose Sequence is not newer than all the lifecycle saw is history only', () => {
    const s = staleWaiting();
    applyCallback(s, update(3, T0 + 1300), 0);
    expect(applyCallback(s, stop({ sequence: 2 }), 0)).toBe('applied');
    expect(s.stop).toBeNull();
    expect(s.events.map((e) => e.sequence)).toEqual([0, 3, 2]);
  });

  it('a stale lifecycle that does not wait (older ones, no start, no horizon) sends the stop to the next lifecycle', () => {
    const s = staleWaiting();
    delete s.ownStopUntilMs; // as carried over from a lifecycle that went stale before the wait existed
    expect(awaitsOwnStop(s)).toBe(false);
    expect(applyCallback(s, stop({ sequence: 1 }), 0)).toBe('next_lifecycle');
    expect(s.stop).toBeNull();
    expect(applyCallback(s, update(0, T0 + 10, FHD), 0)).toBe('applied');
    expect(s.segments).toHaveLength(1);
  });

  it('an earlier-signed duplicate of its stop moves the stop back while waiting', () => {
    const s = staleWaiting();
    applyCallback(s, stop({ sequence: 1, timestamp: String(T0 + 36_000) }), 0);
    applyCallback(s, stop({ sequence: 1, timestamp: String(T0 + 35_990), nonce: 'earlier' }), 0);
    expect(s.stop?.ms).toBe((T0 + 35_990) * 1000);
  });
});

describe('re-signed retries delivered out of order', () => {
  // ZEGO may re-sign a retry (new Timestamp and Nonce, same Event, Sequence and Status). When the
  // later-signed copy arrives first, the earlier Timestamp is when the event happened.
  it('an earlier-signed duplicate of the start moves the start, its segment and the stale clock back', () => {
    const s = fresh();
    applyCallback(s, start({ timestamp: String(T0 + 6), nonce: 'retry' }), 0);
    expect(applyCallback(s, start(), 0)).toBe('duplicate');
    expect(s.start).toMatchObject({ ms: T0 * 1000, timestamp: String(T0) });
    expect(s.firstActiveMs).toBe(T0 * 1000);
    expect(s.segments.map((x) => x.fromMs)).toEqual([T0 * 1000]);
    expect(s.events).toMatchObject([{ timestamp: String(T0), deliveries: 2 }]);
  });

  it('an earlier-signed duplicate of an update moves its segment back, keeping segments in time order', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, update(2, T0 + 200, HD), 0);
    applyCallback(s, update(1, T0 + 230), 0); // a re-signed copy, signed 130 s after the original
    applyCallback(s, update(1, T0 + 100), 0);
    expect(s.segments.map((x) => [x.sequence, x.fromMs / 1000])).toEqual([
      [0, T0],
      [1, T0 + 100],
      [2, T0 + 200],
    ]);
  });

  it('an earlier-signed duplicate of the stop moves the stop back', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, stop({ timestamp: String(T0 + 630), nonce: 'retry' }), 0);
    applyCallback(s, stop(), 0);
    expect(s.stop).toMatchObject({ ms: (T0 + 600) * 1000, timestamp: String(T0 + 600) });
    expect(billingEndMs(s)).toBe((T0 + 600) * 1000);
  });

  it('a later-signed duplicate, or a duplicate after the outcome the workflow does not amend for, changes nothing', () => {
    const s = fresh();
    applyCallback(s, start(), 0);
    applyCallback(s, stop({ timestamp: String(T0 + 630) }), 0);
    applyCallback(s, start({ timestamp: String(T0 + 9), nonce: 'later' }), 0);
    expect(s.start?.ms).toBe(T0 * 1000);
    s.outcome = 'stopped';
    applyCallback(s, stop({ nonce: 'earlier' }), 0);
    // A lifecycle begun before the amendment (its patch says no): as it always did.
    applyCallback(s, stop({ nonce: 'earlier-again' }), 0, () => false);
    expect(s.stop?.ms).toBe((T0 + 630) * 1000);
    expect(s.billingToAmend).toBeUndefined();
  });
});

describe('an earlier-signed original arriving after the outcome', () => {
  /** Billed from re-signed copies: the start signed 3 s late, the stop 2 s late, the update 5 s late. */
  function billedFromCopies(): LifecycleState {
    const s = fresh();
    applyCallback(s, start({ timestamp: String(T0 + 3), nonce: 'copy-0' }), 0);
    applyCallback(s, update(1, T0 + 305, HD), 0);
    applyCallback(s, stop({ sequence: 2, timestamp: String(T0 + 602), nonce: 'copy-2' }), 0);
    s.outcome = 'stopped';
    return s;
  }

  it.each([
    ['the start', start(), { start: T0 }],
    ['the stop', stop({ sequence: 2 }), { stop: T0 + 600 }],
    ['an update', update(1, T0 + 300, HD), { segment1: T0 + 300 }],
  ])('%s moves to its Timestamp and asks for the bill to be amended', (_, original, moved) => {
    const s = billedFromCopies();
    const asked = jest.fn(() => true);
    expect(applyCallback(s, original, 0, asked)).toBe('duplicate');
    expect(asked).toHaveBeenCalledTimes(1);
    expect(s.billingToAmend).toBe(true);
    expect({
      start: s.start!.ms / 1000,
      stop: s.stop!.ms / 1000,
      segment1: s.segments.find((x) => x.sequence === 1)!.fromMs / 1000,
    }).toEqual({ start: T0 + 3, stop: T0 + 602, segment1: T0 + 305, ...moved });
    expect(billingEndMs(s)).toBe(s.stop!.ms);
    expect(billingSegments(s)[0].fromMs).toBe(s.start!.ms);
  });

  it('asks nothing when nothing billed would move: a later-signed copy, an equal one, an unbilled outcome', () => {
    const asked = jest.fn(() => true);
    const s = billedFromCopies();
    applyCallback(s, start({ timestamp: String(T0 + 9), nonce: 'later' }), 0, asked);
    applyCallback(s, stop({ sequence: 2, timestamp: String(T0 + 602), nonce: 'same-time' }), 0, asked);
    expect(asked).not.toHaveBeenCalled();
    expect(s.billingToAmend).toBeUndefined();

    // An orphaned stop bills nothing; a stale bill ends at the stale deadline, not at a stop.
    const orphan = fresh();
    applyCallback(orphan, stop({ timestamp: String(T0 + 602), nonce: 'copy' }), 0);
    orphan.outcome = 'orphaned';
    applyCallback(orphan, stop(), 0, asked);
    const stale = billedFromCopies();
    stale.outcome = 'stale';
    applyCallback(stale, stop({ sequence: 2 }), 0, asked);
    expect(asked).not.toHaveBeenCalled();
    expect(stale.stop!.ms).toBe((T0 + 602) * 1000);
  });

  it('the workflow saying no leaves every fact as billed', () => {
    const s = billedFromCopies();
    applyCallback(s, start(), 0, () => false);
    expect(s.start!.ms).toBe((T0 + 3) * 1000);
    expect(s.events[0]).toMatchObject({ timestamp: String(T0 + 3), deliveries: 2 });
    expect(s.billingToAmend).toBeUndefined();
  });
});

describe('missingSequences: what a stop waits for before the bill is decided', () => {
  it('lists the Sequences between the start and the stop that no callback carried, until they arrive', () => {
    const s = fresh();
    expect(missingSequences(s)).toEqual([]);
    applyCallback(s, start(), 0);
    expect(missingSequences(s)).toEqual([]); // no stop yet: nothing to wait for
    applyCallback(s, stop({ sequence: 4 }), 0);
    expect(missingSequences(s)).toEqual([[1, 3]]);
    applyCallback(s, update(2, T0 + 100), 0);
    expect(missingSequences(s)).toEqual([
      [1, 1],
      [3, 3],
    ]);
    applyCallback(s, update(1, T0 + 50), 0);
    applyCallback(s, start({ sequence: 3, status: 'TranscodeUpdated', outputs: undefined }), 0);
    expect(missingSequences(s)).toEqual([]);
  });

  it('needs no gap when the stop follows the start directly, or comes from ZEGO with a lower Sequence', () => {
    const s = fresh();
    applyCallback(s, start({ sequence: 7 }), 0);
    applyCallback(s, stop({ sequence: 8 }), 0);
    expect(missingSequences(s)).toEqual([]);
    const t = fresh();
    applyCallback(t, start({ sequence: 7 }), 0);
    applyCallback(t, stop({ sequence: 0 }), 0);
    expect(missingSequences(t)).toEqual([]);
  });

  it('stays cheap for callers whose Sequence is not contiguous (e.g. a Unix time)', () => {
    const s = fresh();
    applyCallback(s, start({ sequence: 1_700_000_000 }), 0);
    applyCallback(s, update(1_700_000_300, T0 + 300), 0);
    applyCallback(s, stop({ sequence: 1_700_000_600 }), 0);
    expect(missingSequences(s)).toEqual([
      [1_700_000_001, 1_700_000_299],
      [1_700_000_301, 1_700_000_599],
    ]);
  });
});

describe('a task updated tens of thousands of times', () => {
  const OUT = (w: number, h: number) => ({
    StreamId: 'output-stream-1',
    VideoEncId: 0,
    Fps: 0,
    ShortEdgeAdaption: 0,
    Width: w,
    Height: h,
    VideoBitrate: 0,
    GOP: 2,
  });

  function busy(updates: number): LifecycleState {
    const s = fresh();
    applyCallback(s, start({ outputs: [OUT(1280, 720)] }), 0);
    for (let i = 1; i <= updates; i++) {
      applyCallback(s, update(i, T0 + i, [i % 2 ? OUT(1920, 1080) : OUT(640, 360)]), 0);
    }
    return s;
  }

  it('stays small enough to continue as new (Temporal payloads are limited to 2 MB)', () => {
    const s = busy(10_000);
    expect(JSON.stringify(s).length).toBeLessThan(1024 * 1024);
    expect(s.segments).toHaveLength(10_001);
    expect(s.segments[6].outputs).toEqual([{ Width: 640, Height: 360 }]);
  });

  it('lists the most recent 500 callbacks, counts the rest, and still knows them all as duplicates', () => {
    const s = busy(2_000);
    const doc = toDocument(s, 'r', false);
    expect(doc.events).toHaveLength(500);
    expect(doc.eventsOmitted).toBe(1_501);
    expect(doc.events[0]).toMatchObject({ status: 'TranscodeStarted', sequence: 0 }); // the start stays listed
    expect(doc.events[499].sequence).toBe(2_000);
    expect(s.seen['transcode_start:TranscodeUpdated']).toEqual([[1, 2_000]]);
    expect(applyCallback(s, update(7, T0 + 7), 0)).toBe('duplicate'); // omitted from the list
    expect(applyCallback(s, update(1_999, T0 + 1_999), 0)).toBe('duplicate'); // listed
    expect(s.events.find((e) => e.sequence === 1_999)?.deliveries).toBe(2);
    expect(applyCallback(s, update(2_001, T0 + 2_001), 0)).toBe('applied');
    expect(doc.outputs).toEqual([OUT(640, 360)]); // the outputs in force, as ZEGO sent them
  });
});

describe('the collecting loop: next timer', () => {
  const timers = { orphanGraceMs: 600_000, staleStopGraceMs: 120_000, maxTaskDurationMs: 86_400_000 };
  const NOW = 1_800_000_000_000;

  it('nothing seen: no timer', () => {
    expect(nextTimer(fresh(), null, Number.NEGATIVE_INFINITY, timers)).toEqual({
      deadlineMs: Number.POSITIVE_INFINITY,
      onTimeout: 'stale',
    });
  });

  it('running: stale MAX_TASK_DURATION after the first active moment', () => {
    const s = fresh();
    applyCallback(s, start(), NOW);
    expect(nextTimer(s, null, Number.NEGATIVE_INFINITY, timers)).toEqual({
      deadlineMs: T0 * 1000 + timers.maxTaskDurationMs,
      onTimeout: 'stale',
    });
  });

  it('stale stop requested: STALE_STOP_GRACE after the request', () => {
    const s = fresh();
    applyCallback(s, start(), NOW);
    s.staleStopRequestedAtMs = NOW;
    expect(nextTimer(s, null, Number.NEGATIVE_INFINITY, timers)).toEqual({
      deadlineMs: NOW + timers.staleStopGraceMs,
      onTimeout: 'stale',
    });
  });

  it('a stop without its start: orphaned ORPHAN_STOP_GRACE after the stop arrived', () => {
    const s = fresh();
    applyCallback(s, stop(), NOW);
    expect(nextTimer(s, decidedByCallbacks(s), Number.NEGATIVE_INFINITY, timers)).toEqual({
      deadlineMs: NOW + timers.orphanGraceMs,
      onTimeout: 'orphaned',
    });
  });

  it('a decided stop waits for its missing Sequences, then decides as the callbacks say', () => {
    const s = fresh();
    applyCallback(s, start(), NOW);
    applyCallback(s, stop({ sequence: 3, stopReason: 1 }), NOW + 5);
    const gap = sequenceGapDeadlineMs(s, 90_000);
    expect(gap).toBe(NOW + 5 + 90_000);
    expect(sequenceGapDeadlineMs(s, null)).toBe(Number.NEGATIVE_INFINITY);
    expect(nextTimer(s, decidedByCallbacks(s), gap, timers)).toEqual({
      deadlineMs: gap,
      onTimeout: 'aborted',
    });
  });

  it('no Sequence missing: no gap to wait for', () => {
    const s = fresh();
    applyCallback(s, start(), NOW);
    applyCallback(s, stop(), NOW);
    expect(sequenceGapDeadlineMs(s, 90_000)).toBe(Number.NEGATIVE_INFINITY);
  });
});
