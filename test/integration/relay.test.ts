/**
 * The relay's own rules (src/inbox/relay.ts) against a real inbox (embedded PGlite), with a
 * scripted gateway playing Temporal's answers — the one thing here that stands in for Temporal,
 * so that an outage, a refusal or a flaky answer can be played at will and counted exactly. The
 * real hand-off to a real Temporal is covered by inbox.test.ts, resilience.test.ts and chaos.
 */
import { pollUntil } from '../../tools/process/poll';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../src/logger';
import type { HandoffOutcome } from '../../src/http/ports';
import { InboxRelay, type RelayGateway } from '../../src/inbox/relay';
import { InboxRecorder } from '../../src/inbox/recorders';
import { openDatabase, type CallbackInbox, type Database, type InboxEntry } from '../../src/store';
import { lifecycleWorkflowId, type CallbackSignalPayload } from '../../workflows/definitions';

jest.setTimeout(60_000);

const grpcError = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details });
const UNAVAILABLE = 14;
const INVALID_ARGUMENT = 3;
const INTERNAL = 13;

/** Plays Temporal: `answer` decides each call; every call is recorded in order. */
class ScriptedGateway implements RelayGateway {
  calls: CallbackSignalPayload[] = [];
  answer: (p: CallbackSignalPayload) => Promise<HandoffOutcome> = async (p) => ({
    kind: 'accepted',
    workflowId: lifecycleWorkflowId(p.appId, p.taskId),
    runId: 'run',
    newLifecycle: false,
  });
  async deliver(payload: CallbackSignalPayload): Promise<HandoffOutcome> {
    this.calls.push(payload);
    return this.answer(payload);
  }
}

let dir: string;
let db: Database;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'relay-'));
  db = await openDatabase({ dataDir: dir });
});
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

async function record(taskId: string, sequence: number, over: Partial<CallbackSignalPayload> = {}) {
  const payload: CallbackSignalPayload = {
    event: 'transcode_start',
    appId: '111111',
    taskId,
    userId: 'u',
    sequence,
    status: sequence === 0 ? 'TranscodeStarted' : 'TranscodeUpdated',
    timestamp: String(1_700_000_000 + sequence),
    nonce: randomUUID(),
    receivedAt: new Date().toISOString(),
    ...over,
  };
  const result = await db.inbox.record({
    nonceKey: `${payload.timestamp}:${payload.nonce}`,
    fingerprint: randomUUID(),
    nonceExpiresAtMs: Date.now() + 60_000,
    workflowId: lifecycleWorkflowId(payload.appId, payload.taskId),
    payload,
  });
  if (result.binding === 'conflict') throw new Error('unexpected conflict');
  return result.id;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) {
  if (!(await pollUntil(check, Boolean, { timeoutMs, everyMs: 20 })).done)
    throw new Error(`${what}: not within ${timeoutMs} ms`);
}

async function statusOf(id: string) {
  return (await db.inbox.get(id))?.status;
}

function relayWith(gateway: RelayGateway, over: Partial<ConstructorParameters<typeof InboxRelay>[0]> = {}) {
  return new InboxRelay({
    inbox: db.inbox,
    gateway,
    logger,
    handoffTimeoutMs: 2_000,
    sweepIntervalMs: 50,
    backoff: { initialMs: 20, maxMs: 100 },
    ...over,
  });
}

describe('the relay', () => {
  it("delivers each task's entries in Sequence order, tasks side by side, and marks them delivered", async () => {
    const gateway = new ScriptedGateway();
    const tasks = Array.from({ length: 8 }, () => `order-${randomUUID()}`);
    const ids: string[] = [];
    for (const taskId of tasks) for (const sequence of [2, 0, 1]) ids.push(await record(taskId, sequence));
    const relay = relayWith(gateway, { concurrency: 4 });
    relay.start();
    try {
      await until('all delivered', async () =>
        (await Promise.all(ids.map(statusOf))).every((s) => s === 'delivered'),
      );
      for (const taskId of tasks) {
        expect(gateway.calls.filter((c) => c.taskId === taskId).map((c) => c.sequence)).toEqual([0, 1, 2]);
      }
      expect(gateway.calls).toHaveLength(ids.length);
      expect(await db.inbox.get(ids[0])).toMatchObject({ outcome: 'accepted', runId: 'run', attempts: 1 });
    } finally {
      await relay.stop();
    }
  });

  it('while Temporal is away: stops, backs off (no hammering), then drains everything once it is back', async () => {
    const gateway = new ScriptedGateway();
    let away = true;
    const accept = gateway.answer;
    gateway.answer = async (p) => {
      if (away) throw grpcError(UNAVAILABLE, 'No connection established');
      return accept(p);
    };
    const relay = relayWith(gateway, { concurrency: 8, backoff: { initialMs: 50, maxMs: 200 } });
    relay.start();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await record(`away-${randomUUID()}`, 0));
      await until('circuit open', () => relay.status().temporal === 'away');
      const before = gateway.calls.length;
      await sleep(1_000);
      // At most one probe per backoff period (≥ 0 ms, ≤ 200 ms, jittered) plus what was in flight.
      const probes = gateway.calls.length - before;
      expect(probes).toBeGreaterThan(0);
      expect(probes).toBeLessThan(60);
      expect((await db.inbox.stats()).pending).toBeGreaterThanOrEqual(20);
      expect((await db.inbox.get(ids[0]))?.error).toMatch(/No connection established/);

      away = false;
      await until('drained', async () =>
        (await Promise.all(ids.map(statusOf))).every((s) => s === 'delivered'),
      );
      expect(relay.status().temporal).toBe('up');
    } finally {
      await relay.stop();
    }
  });

  it('parks a refused entry as rejected with its error and raises the alert; the task goes on', async () => {
    const gateway = new ScriptedGateway();
    const taskId = `refused-${randomUUID()}`;
    const accept = gateway.answer;
    gateway.answer = async (p) => {
      if (p.taskId === taskId && p.sequence === 0)
        throw grpcError(INVALID_ARGUMENT, 'Blob data size exceeds limit.');
      return accept(p);
    };
    const rejected: [InboxEntry, string][] = [];
    const relay = relayWith(gateway, {
      onRejected: async (entry, failure) => {
        rejected.push([entry, failure.kind]);
      },
    });
    const first = await record(taskId, 0);
    const second = await record(taskId, 1);
    relay.start();
    try {
      await until(
        'refused parked, next delivered',
        async () => (await statusOf(first)) === 'rejected' && (await statusOf(second)) === 'delivered',
      );
      expect(await db.inbox.get(first)).toMatchObject({
        status: 'rejected',
        error: 'INVALID_ARGUMENT: Blob data size exceeds limit.',
      });
      expect(rejected.map(([e, kind]) => [e.id, kind])).toEqual([[first, 'refused']]);
      // Never retried on its own.
      const calls = gateway.calls.filter((c) => c.taskId === taskId && c.sequence === 0).length;
      await sleep(300);
      expect(gateway.calls.filter((c) => c.taskId === taskId && c.sequence === 0)).toHaveLength(calls);
    } finally {
      await relay.stop();
    }
  });

  it('a search attribute that is not registered yet is waited for, never parked', async () => {
    const gateway = new ScriptedGateway();
    let registered = false;
    let registrations = 0;
    const accept = gateway.answer;
    gateway.answer = async (p) => {
      if (!registered) throw grpcError(INVALID_ARGUMENT, 'search attribute ZegoAppId is not defined');
      return accept(p);
    };
    const relay = relayWith(gateway, {
      registerSearchAttributes: async () => {
        registrations += 1;
        registered = true;
      },
    });
    const id = await record(`sa-${randomUUID()}`, 0);
    relay.start();
    try {
      await until('delivered', async () => (await statusOf(id)) === 'delivered');
      expect(registrations).toBe(1);
    } finally {
      await relay.stop();
    }
  });

  it('other failures are retried after a growing delay, and parked after MAX_FAILED_ATTEMPTS', async () => {
    const gateway = new ScriptedGateway();
    const taskId = `flaky-${randomUUID()}`;
    let failures = 2;
    const accept = gateway.answer;
    gateway.answer = async (p) => {
      if (p.taskId === taskId && failures-- > 0) throw grpcError(INTERNAL, 'transient');
      return accept(p);
    };
    const relay = relayWith(gateway);
    const id = await record(taskId, 0);
    relay.start();
    try {
      await until('delivered after two failures', async () => (await statusOf(id)) === 'delivered', 30_000);
      expect(await db.inbox.get(id)).toMatchObject({ attempts: 3 });
    } finally {
      await relay.stop();
    }

    // An entry that already failed MAX_FAILED_ATTEMPTS times is parked on the next failure.
    const poison = `poison-${randomUUID()}`;
    const poisonId = await record(poison, 0);
    const parked: string[] = [];
    gateway.answer = async (p) => {
      if (p.taskId === poison) throw grpcError(INTERNAL, 'always');
      return accept(p);
    };
    for (let i = 0; i < 20; i++) {
      const [e] = await db.inbox.claim('test', {
        tasks: 1,
        leaseMs: 60_000,
        workflowId: lifecycleWorkflowId('111111', poison),
      });
      await db.inbox.release('test', [e.id], 0, 'INTERNAL: always');
    }
    const again = relayWith(gateway, { onRejected: async (e) => void parked.push(e.id) });
    again.start();
    try {
      await until('parked', async () => (await statusOf(poisonId)) === 'rejected');
      expect(parked).toEqual([poisonId]);
    } finally {
      await again.stop();
    }
  });

  it('on the happy path delivers what the door leased without claims; a stop behind its start goes at once', async () => {
    // Claims counted on the real inbox; a sweep far away, so only kicks can explain a claim.
    let claims = 0;
    const inbox: CallbackInbox = Object.create(db.inbox);
    inbox.claim = (...args) => {
      claims += 1;
      return db.inbox.claim(...args);
    };
    const gateway = new ScriptedGateway();
    let release!: () => void;
    let gate: Promise<void> = Promise.resolve();
    const accept = gateway.answer;
    gateway.answer = async (p) => {
      await gate;
      return accept(p);
    };
    const relay = relayWith(gateway, { inbox, sweepIntervalMs: 60_000 });
    const recorder = new InboxRecorder(inbox, relay);
    const door = async (taskId: string, sequence: number, event: CallbackSignalPayload['event']) => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const outcome = await recorder.record(
        {
          callback: {
            event,
            appId: '111111',
            taskId,
            userId: 'u',
            sequence,
            status: '',
            timestamp,
            nonce: randomUUID(),
          },
          fingerprint: randomUUID(),
          workflowId: lifecycleWorkflowId('111111', taskId),
          receivedAt: new Date().toISOString(),
          nonceExpiresAtMs: Date.now() + 60_000,
        },
        Date.now() + 5_000,
      );
      if (outcome.kind !== 'accepted' || !outcome.entryId) throw new Error(`not accepted: ${outcome.kind}`);
      return outcome.entryId;
    };
    relay.start();
    try {
      await until('the start-up claim', () => claims === 1);
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        const taskId = `happy-${randomUUID()}`;
        for (const [sequence, event] of [
          [0, 'transcode_start'],
          [1, 'transcode_stop'],
        ] as const) {
          const id = await door(taskId, sequence, event);
          await until('delivered', async () => (await statusOf(id)) === 'delivered');
          ids.push(id);
        }
      }
      expect(gateway.calls).toHaveLength(20);
      // Each went with the lease the door gave it: no claim after the start-up one.
      expect(claims).toBe(1);

      // A start held in flight: its stop is recorded behind it, unleased, and goes as soon as the
      // start is written off (not at the sweep a minute later), in order.
      gate = new Promise<void>((r) => (release = r));
      const taskId = `behind-${randomUUID()}`;
      const calls = gateway.calls.length;
      const start = await door(taskId, 0, 'transcode_start');
      await until('start in flight', () => gateway.calls.length === calls + 1);
      const stop = await door(taskId, 1, 'transcode_stop');
      expect((await db.inbox.get(stop))?.leaseUntil).toBeNull();
      release();
      gate = Promise.resolve();
      await until('stop delivered promptly', async () => (await statusOf(stop)) === 'delivered', 5_000);
      expect(await statusOf(start)).toBe('delivered');
      expect(gateway.calls.slice(calls).map((c) => [c.taskId, c.event])).toEqual([
        [taskId, 'transcode_start'],
        [taskId, 'transcode_stop'],
      ]);
    } finally {
      await relay.stop();
    }
  });

  it('stop() lets deliveries in flight finish and gives the rest back at once', async () => {
    const gateway = new ScriptedGateway();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const accept = gateway.answer;
    gateway.answer = async (p) => {
      await gate;
      return accept(p);
    };
    const taskId = `stop-${randomUUID()}`;
    const ids = [await record(taskId, 0), await record(taskId, 1)];
    const relay = relayWith(gateway);
    relay.start();
    await until('first in flight', () => gateway.calls.length === 1);
    const stopped = relay.stop();
    release();
    await stopped;
    expect(await statusOf(ids[0])).toBe('delivered');
    // The second was never tried and is claimable at once by another replica.
    expect(gateway.calls).toHaveLength(1);
    const taken = await db.inbox.claim('other', {
      tasks: 1,
      leaseMs: 60_000,
      workflowId: lifecycleWorkflowId('111111', taskId),
    });
    expect(taken.map((e) => e.id)).toEqual([ids[1]]);
    await db.inbox.complete(taken.map((e) => ({ id: e.id, outcome: 'accepted' as const })));
  });
});
