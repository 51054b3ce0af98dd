/**
 * The simulator's plan: reproducible from a seed, the right callbacks per lifecycle, the configured
 * shares of faults, valid signatures, bodies the service's own reader accepts, and expected billing.
 */
import { buildPlan, type Plan, type PlanOptions, type PlannedCallback } from '../../src/sim/plan';
import { decodeBody } from '../../src/sim/encoding';
import { expectedState, expectedStates } from '../../src/sim/expected';
import { resolveOptions, SimulationOptionsError } from '../../src/sim/options';
import { createRandom } from '../../src/sim/random';
import { computeBilling, ZEGO_LIST_PRICES } from '../../src/zego/billing';
import { readCallback } from '../../src/zego/callback';
import { computeCallbackSignature } from '../../src/zego/signature';

const SECRET = 'sim-test-secret';
const NOW_MS = 1_700_000_000_000;

function options(overrides: Partial<PlanOptions> = {}): PlanOptions {
  return {
    seed: 'seed-1',
    appId: '111111',
    secret: SECRET,
    tasks: 20,
    maxUpdates: 3,
    durationSeconds: 120,
    abnormalShare: 0.1,
    buggyStatusShare: 0.05,
    duplicateRate: 0,
    resignRate: 0,
    reorderRate: 0,
    lateRate: 0,
    lateDelayMs: 10_000,
    encoding: 'json',
    nowMs: NOW_MS,
    ...overrides,
  };
}

function byTask(plan: Plan): Map<number, PlannedCallback[]> {
  const map = new Map<number, PlannedCallback[]>();
  for (const cb of plan.callbacks) map.set(cb.taskIndex, [...(map.get(cb.taskIndex) ?? []), cb]);
  return map;
}

const share = (n: number, of: number) => n / of;

describe('random', () => {
  it('is reproducible for a seed and differs between seeds', () => {
    const draw = (seed: string) => {
      const r = createRandom(seed);
      return Array.from({ length: 5 }, () => r.next());
    };
    expect(draw('a')).toEqual(draw('a'));
    expect(draw('a')).not.toEqual(draw('b'));
    const r = createRandom('x');
    for (let i = 0; i < 1000; i++) {
      const n = r.int(3, 7);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(7);
    }
    expect(createRandom('x').digits(19)).toMatch(/^[1-9]\d{18}$/);
  });
});

describe('buildPlan', () => {
  it('is deterministic for a seed (and the same nowMs)', () => {
    const faults = {
      duplicateRate: 0.3,
      resignRate: 0.2,
      reorderRate: 0.3,
      lateRate: 0.2,
      encoding: 'mixed' as const,
    };
    const a = buildPlan(options(faults));
    const b = buildPlan(options(faults));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const c = buildPlan(options({ ...faults, seed: 'seed-2' }));
    expect(c.callbacks.map((cb) => cb.body)).not.toEqual(a.callbacks.map((cb) => cb.body));
  });

  it('gives every task one start, 0..K updates and one stop, with Sequence increasing', () => {
    const plan = buildPlan(options({ tasks: 200, maxUpdates: 3 }));
    expect(plan.tasks).toHaveLength(200);
    const updateCounts = new Set<number>();
    for (const [taskIndex, callbacks] of byTask(plan)) {
      const task = plan.tasks[taskIndex];
      expect(callbacks.every((cb) => cb.kind === 'original')).toBe(true);
      const steps = callbacks.map((cb) => cb.step);
      expect(steps[0]).toBe('start');
      expect(steps[steps.length - 1]).toBe('stop');
      const updates = steps.filter((s) => s === 'update').length;
      expect(updates).toBeLessThanOrEqual(3);
      updateCounts.add(updates);
      // Offered in lifecycle order when nothing is reordered; Sequence 0, 1, … strictly increasing.
      expect(callbacks.map((cb) => cb.sequence)).toEqual(callbacks.map((_, i) => i));
      const timestamps = callbacks.map((cb) => Number(cb.timestamp));
      for (let i = 1; i < timestamps.length; i++) expect(timestamps[i]).toBeGreaterThan(timestamps[i - 1]);
      expect(callbacks[0].status).toBe('TranscodeStarted');
      callbacks.slice(1, -1).forEach((cb) => expect(cb.status).toBe('TranscodeUpdated'));
      expect(callbacks[callbacks.length - 1].event).toBe('transcode_stop');
      expect(task.stopTimestamp - task.startTimestamp).toBe(task.durationSeconds);
      expect(task.durationSeconds).toBeGreaterThanOrEqual(60);
      expect(task.durationSeconds).toBeLessThanOrEqual(120);
    }
    expect([...updateCounts].sort()).toEqual([0, 1, 2, 3]);
    const ids = plan.callbacks.map((cb) => cb.id);
    expect(ids).toEqual(ids.map((_, i) => i));
  });

  it('chains each task: a callback waits for the previous one of its task', () => {
    const plan = buildPlan(options({ tasks: 50, duplicateRate: 0.3, resignRate: 0.3, lateRate: 0.3 }));
    for (const callbacks of byTask(plan).values()) {
      const chain = callbacks.filter((cb) => cb.kind !== 'late');
      expect(chain[0].after).toBeUndefined();
      chain.slice(1).forEach((cb, i) => expect(cb.after).toBe(chain[i].id));
      for (const late of callbacks.filter((cb) => cb.kind === 'late')) {
        expect(late.after).toBe(late.originalId);
        expect(late.delayMs).toBeGreaterThanOrEqual(5_000);
        expect(late.delayMs).toBeLessThanOrEqual(10_000);
      }
    }
  });

  it('stamps every callback within the skew window: stops at now, starts at most the duration before', () => {
    const plan = buildPlan(options({ tasks: 100, resignRate: 0.5 }));
    const now = NOW_MS / 1000;
    for (const cb of plan.callbacks) {
      const ts = Number(cb.timestamp);
      expect(cb.timestamp).toMatch(/^\d{10}$/);
      expect(ts).toBeGreaterThanOrEqual(now - 120);
      expect(ts).toBeLessThanOrEqual(now + (cb.kind === 'resigned' ? 3 : 0));
      if (cb.step === 'stop' && cb.kind === 'original') expect(ts).toBe(now);
    }
  });

  it('paces timestamps with the planned rate', () => {
    const plan = buildPlan(options({ tasks: 40, ratePerSecond: 10 }));
    for (const task of plan.tasks) {
      const stop = plan.callbacks.find(
        (cb) => cb.taskIndex === task.index && cb.step === 'stop',
      ) as PlannedCallback;
      expect(task.stopTimestamp).toBe(NOW_MS / 1000 + Math.floor(stop.id / 10));
    }
  });

  it('respects the configured shares roughly', () => {
    const tasks = 3000;
    const plan = buildPlan(
      options({
        tasks,
        abnormalShare: 0.2,
        buggyStatusShare: 0.1,
        duplicateRate: 0.3,
        resignRate: 0.1,
        reorderRate: 0.25,
        lateRate: 0.05,
      }),
    );
    const originals = plan.callbacks.filter((cb) => cb.kind === 'original').length;
    const count = (kind: PlannedCallback['kind']) => plan.callbacks.filter((cb) => cb.kind === kind).length;
    expect(share(plan.tasks.filter((t) => t.stopReason === 1).length, tasks)).toBeCloseTo(0.2, 1);
    expect(share(plan.tasks.filter((t) => t.stopStatus === 'TranscodeStarted').length, tasks)).toBeCloseTo(
      0.1,
      1,
    );
    expect(share(plan.tasks.filter((t) => t.reorder !== null).length, tasks)).toBeCloseTo(0.25, 1);
    expect(share(count('duplicate'), originals)).toBeCloseTo(0.3, 1);
    expect(share(count('resigned'), originals)).toBeCloseTo(0.1, 1);
    expect(share(count('late'), originals)).toBeCloseTo(0.05, 1);
    expect(plan.tasks.some((t) => t.reorder === 'stop-first')).toBe(true);
    expect(plan.tasks.some((t) => t.reorder === 'update-first')).toBe(true);
  });

  it('reorders a task so its stop or an update comes first, every update before the start/stop pair', () => {
    const plan = buildPlan(options({ tasks: 300, reorderRate: 1, maxUpdates: 3 }));
    for (const [taskIndex, callbacks] of byTask(plan)) {
      const task = plan.tasks[taskIndex];
      const first = callbacks[0];
      expect(first.step).toBe(task.reorder === 'stop-first' ? 'stop' : 'update');
      const position = (step: string) => callbacks.findIndex((cb) => cb.step === step);
      const decided = Math.max(position('start'), position('stop'));
      callbacks.forEach((cb, i) => {
        if (cb.step === 'update') expect(i).toBeLessThan(decided);
      });
    }
  });

  it('makes redeliveries: identical bodies, re-signed copies of the same event, late identical copies', () => {
    const plan = buildPlan(options({ tasks: 200, duplicateRate: 0.5, resignRate: 0.5, lateRate: 0.5 }));
    for (const cb of plan.callbacks.filter((c) => c.kind !== 'original')) {
      const original = plan.callbacks[cb.originalId];
      expect(original.kind).toBe('original');
      expect(original.id).toBeLessThan(cb.id);
      expect([cb.event, cb.sequence, cb.status, cb.taskIndex]).toEqual([
        original.event,
        original.sequence,
        original.status,
        original.taskIndex,
      ]);
      if (cb.kind === 'resigned') {
        expect(cb.nonce).not.toBe(original.nonce);
        expect(cb.signature).not.toBe(original.signature);
        expect(Number(cb.timestamp) - Number(original.timestamp)).toBeGreaterThanOrEqual(1);
        const { Timestamp: _t, Nonce: _n, Signature: _s, ...rest } = decodeBody(cb.body, cb.contentType);
        const {
          Timestamp: _t2,
          Nonce: _n2,
          Signature: _s2,
          ...originalRest
        } = decodeBody(original.body, original.contentType);
        expect(rest).toEqual(originalRest);
      } else {
        expect(cb.body).toBe(original.body);
        expect(cb.contentType).toBe(original.contentType);
      }
    }
  });

  it.each(['json', 'urlencoded-json', 'form', 'mixed'] as const)(
    'signs every %s body validly, and the service reads it as the planned event',
    (encoding) => {
      const plan = buildPlan(
        options({ tasks: 60, encoding, duplicateRate: 0.2, resignRate: 0.2, lateRate: 0.2 }),
      );
      const encodings = new Set<string>();
      for (const cb of plan.callbacks) {
        encodings.add(cb.encoding);
        const fields = decodeBody(cb.body, cb.contentType);
        expect(fields.Signature).toBe(
          computeCallbackSignature(SECRET, String(fields.Timestamp), String(fields.Nonce)),
        );
        expect(cb.signature).toBe(computeCallbackSignature(SECRET, cb.timestamp, cb.nonce));
        expect(String(fields.Nonce)).toMatch(/^[1-9]\d{18}$/);

        const read = readCallback(Buffer.from(cb.body), cb.contentType, {
          secrets: [SECRET],
          maxSkewMs: 5 * 60_000,
          now: () => NOW_MS,
        });
        if (read.kind !== 'transcode')
          throw new Error(`not read as a transcode callback: ${JSON.stringify(read)}`);
        const task = plan.tasks[cb.taskIndex];
        expect(read.callback).toMatchObject({
          event: cb.event,
          appId: '111111',
          taskId: task.taskId,
          userId: task.userId,
          sequence: cb.sequence,
          status: cb.status,
          timestamp: cb.timestamp,
          nonce: cb.nonce,
        });
        if (cb.step === 'stop') expect(read.callback.stopReason).toBe(task.stopReason);
        else expect(read.callback.outputs).toEqual(task.segments[cb.sequence].outputs);
      }
      expect([...encodings].sort()).toEqual(
        encoding === 'mixed' ? ['form', 'json', 'urlencoded-json'] : [encoding],
      );
    },
  );

  it('uses the wrong but documented stop Status when asked to', () => {
    const plan = buildPlan(options({ tasks: 50, buggyStatusShare: 1 }));
    const stops = plan.callbacks.filter((cb) => cb.step === 'stop');
    expect(stops).toHaveLength(50);
    stops.forEach((cb) => expect([cb.event, cb.status]).toEqual(['transcode_stop', 'TranscodeStarted']));
  });
});

describe('expected states', () => {
  it('bills each output per tier over its segment, as the service billing rule does', () => {
    const plan = buildPlan(options({ tasks: 200, abnormalShare: 0.3 }));
    const expected = expectedStates(plan);
    expected.forEach((state, i) => {
      const task = plan.tasks[i];
      expect(state.status).toBe(task.stopReason === 1 ? 'aborted' : 'stopped');
      expect(state.durationSeconds).toBe(task.durationSeconds);
      expect(state.maxSequence).toBe(task.segments.length);
      // Cross-check with the service's own pure billing function.
      const billing = computeBilling(
        task.segments.map((s) => ({ fromMs: s.from * 1000, outputs: s.outputs })),
        task.stopTimestamp * 1000,
        ZEGO_LIST_PRICES,
      );
      expect(Object.fromEntries(billing.lines.map((l) => [l.tier, l.seconds]))).toEqual(
        state.billableSecondsByTier,
      );
      expect(Object.fromEntries(billing.lines.map((l) => [l.tier, l.minutes]))).toEqual(
        state.billableMinutesByTier,
      );
      expect(billing.billableSeconds).toBe(state.billableSeconds);
      expect(billing.billableMinutes).toBe(state.billableMinutes);
    });
  });

  it('computes a hand-checked example', () => {
    const state = expectedState({
      index: 0,
      appId: '1',
      taskId: 't',
      userId: 'u',
      durationSeconds: 100,
      startTimestamp: 1000,
      stopTimestamp: 1100,
      stopReason: 1,
      stopStatus: 'TranscodeStopped',
      reorder: null,
      segments: [
        {
          sequence: 0,
          from: 1000,
          outputs: [
            { Width: 1280, Height: 720 },
            { Width: 640, Height: 360 },
          ],
        },
        {
          sequence: 1,
          from: 1030,
          outputs: [
            { Width: 1920, Height: 1080 },
            { Width: 640, Height: 360 },
          ],
        },
      ],
    });
    expect(state).toMatchObject({
      status: 'aborted',
      startedAt: new Date(1_000_000).toISOString(),
      stoppedAt: new Date(1_100_000).toISOString(),
      billableSecondsByTier: { hd: 30, sd: 100, fhd: 70 },
      billableMinutesByTier: { hd: 1, sd: 2, fhd: 2 },
      billableSeconds: 200,
      billableMinutes: 5,
    });
  });
});

describe('resolveOptions', () => {
  it('appends /zego/callback to a base URL and keeps a full callback URL', () => {
    expect(resolveOptions({ url: 'http://127.0.0.1:3000', secret: 's' }).callbackUrl).toBe(
      'http://127.0.0.1:3000/zego/callback',
    );
    expect(resolveOptions({ url: 'http://127.0.0.1:3000/hook', secret: 's' }).callbackUrl).toBe(
      'http://127.0.0.1:3000/hook',
    );
  });

  it('lists every problem', () => {
    try {
      resolveOptions({ url: 'ftp://x', secret: '', tasks: 0, duplicateRate: 2, encoding: 'xml' as never });
      throw new Error('expected a SimulationOptionsError');
    } catch (err) {
      expect(err).toBeInstanceOf(SimulationOptionsError);
      expect((err as SimulationOptionsError).problems).toHaveLength(5);
    }
  });

  it('refuses timestamps that would leave the skew window', () => {
    expect(() => resolveOptions({ url: 'http://h', secret: 's', durationSeconds: 290 })).toThrow(
      /skew window/,
    );
    expect(
      resolveOptions({
        url: 'http://h',
        secret: 's',
        durationSeconds: 290,
        retryScale: 0,
        timeoutMs: 100,
        lateDelayMs: 0,
      }).durationSeconds,
    ).toBe(290);
  });
});
