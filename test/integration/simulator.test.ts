/**
 * The simulator against a local HTTP server started here (127.0.0.1, free port) that misbehaves on
 * purpose per task: answers 503 a few times, never answers (the client times out), or always fails.
 * Checks ZEGO's retry accounting, give-up after 6 attempts, concurrency and rate limits (by counts), that
 * every body verifies, and the CLI's exit codes. The service itself is not involved.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/sim/cli';
import { decodeBody } from '../../src/sim/encoding';
import { planSimulation, runSimulation, type SimulationOptions } from '../../src/sim';
import { readCallback } from '../../src/zego/callback';
import { computeCallbackSignature } from '../../src/zego/signature';

const SECRET = 'simulator-test-secret';

/** How the fake receiver treats every callback of a task: answers 503 `fail` times, then `then`. */
interface Behavior {
  fail: number;
  failWith: 503 | 'hang';
}

interface Arrival {
  at: number;
  taskId: string;
  nonce: string;
  event: string;
  sequence: string;
}

class FakeReceiver {
  readonly arrivals: Arrival[] = [];
  readonly attemptsByNonce = new Map<string, number[]>();
  badBodies: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private server!: Server;
  url = '';

  constructor(
    private readonly behaviorOf: (taskId: string, path: string) => Behavior,
    /** Answers this late, so concurrent requests overlap. */
    private readonly answerDelayMs = 0,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    // An answered request is over once its answer is written; a hung one when the client gives up.
    let over = false;
    const end = () => {
      if (!over) this.inFlight -= 1;
      over = true;
    };
    res.once('finish', end);
    res.once('close', end);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const contentType = req.headers['content-type'] ?? '';

    // Every body must verify, by ZEGO's formula and by the service's own reader.
    const fields = decodeBody(body.toString('utf8'), contentType);
    const nonce = String(fields.Nonce);
    const expected = computeCallbackSignature(SECRET, String(fields.Timestamp), nonce);
    const read = readCallback(body, contentType, { secrets: [SECRET], maxSkewMs: 5 * 60_000 });
    if (fields.Signature !== expected || read.kind !== 'transcode')
      this.badBodies.push(body.toString('utf8'));

    const at = performance.now();
    const taskId = String(fields.TaskId);
    this.arrivals.push({ at, taskId, nonce, event: String(fields.Event), sequence: String(fields.Sequence) });
    const times = [...(this.attemptsByNonce.get(nonce) ?? []), at];
    this.attemptsByNonce.set(nonce, times);

    const behavior = this.behaviorOf(taskId, req.url ?? '/');
    if (times.length <= behavior.fail) {
      if (behavior.failWith === 'hang') return; // never answers: the sender's timeout fires
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end('{"ok":false,"error":"unavailable"}');
      return;
    }
    if (this.answerDelayMs) await sleep(this.answerDelayMs);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  }
}

/** `sim-<n>`: task number n. */
const taskNumber = (taskId: string) => Number(taskId.slice(taskId.lastIndexOf('-') + 1));

describe('simulator against a local receiver', () => {
  // Task n: 1 mod 4 fine; 2 mod 4 two 503s; 3 mod 4 one timeout; 4 always 503; 8 and 12 five 503s.
  const behaviorOf = (taskId: string): Behavior => {
    const n = taskNumber(taskId);
    if (n % 4 === 1) return { fail: 0, failWith: 503 };
    if (n % 4 === 2) return { fail: 2, failWith: 503 };
    if (n % 4 === 3) return { fail: 1, failWith: 'hang' };
    if (n === 4) return { fail: Infinity, failWith: 503 };
    return { fail: 5, failWith: 503 };
  };
  // Accepts everything, except on /always-503.
  const fineBehavior = (_taskId: string, urlPath: string): Behavior =>
    urlPath === '/always-503' ? { fail: Infinity, failWith: 503 } : { fail: 0, failWith: 503 };
  let receiver: FakeReceiver;
  let fine: FakeReceiver;

  beforeEach(async () => {
    receiver = new FakeReceiver(behaviorOf);
    fine = new FakeReceiver(fineBehavior);
    await Promise.all([receiver.start(), fine.start()]);
  });
  afterEach(async () => {
    await Promise.all([receiver.stop(), fine.stop()]);
  });

  it('counts first-try deliveries, deliveries after k retries and give-ups after 6 attempts', async () => {
    const options: SimulationOptions = {
      url: receiver.url,
      secret: SECRET,
      tasks: 12,
      updates: 2,
      seed: 'retries',
      taskIdPrefix: 'sim-',
      retryScale: 0.01,
      // Long enough that an answered request never times out on a loaded machine (at 300 ms one
      // did, under a load average of 9): only the receiver's hung requests may.
      timeoutMs: 2_000,
      concurrency: 4,
      encoding: 'mixed',
      nowMs: Date.now(),
    };
    const plan = planSimulation(options);
    const report = await runSimulation(options);
    const { summary } = report;

    const callbacksOf = (pred: (n: number) => boolean) =>
      plan.callbacks.filter((cb) => pred(taskNumber(plan.tasks[cb.taskIndex].taskId))).length;
    const fine = callbacksOf((n) => n % 4 === 1);
    const twice503 = callbacksOf((n) => n % 4 === 2);
    const timedOut = callbacksOf((n) => n % 4 === 3);
    const always = callbacksOf((n) => n === 4);
    const five503 = callbacksOf((n) => n === 8 || n === 12);

    expect(summary.tasks).toBe(12);
    expect(summary.callbacks).toBe(plan.callbacks.length);
    expect(summary.deliveredFirstTry).toBe(fine);
    expect(summary.deliveredAfterRetry).toBe(twice503 + timedOut + five503);
    expect(summary.deliveredAfterRetries).toEqual({ '1': timedOut, '2': twice503, '5': five503 });
    expect(summary.givenUp).toBe(always);
    expect(summary.attempts).toBe(fine + 3 * twice503 + 2 * timedOut + 6 * always + 6 * five503);
    expect(summary.statusCounts).toEqual({
      '200': fine + twice503 + timedOut + five503,
      '503': 2 * twice503 + 6 * always + 5 * five503,
      timeout: timedOut,
    });
    expect(summary.latencyMs.max).toBeGreaterThanOrEqual(2_000);

    // What ZEGO would have lost: every callback of task 4, each after 6 attempts.
    expect(report.lost).toHaveLength(always);
    for (const lost of report.lost) {
      expect(lost.taskId).toBe('sim-4');
      expect(lost.outcomes).toEqual([503, 503, 503, 503, 503, 503]);
    }

    // The receiver saw exactly those attempts, each body verifying.
    expect(receiver.badBodies).toEqual([]);
    expect(receiver.arrivals).toHaveLength(summary.attempts);
    // ZEGO's intervals 2, 4, 8, 16, 32 s scaled by 0.01, counted from each failed answer.
    for (const cb of plan.callbacks.filter((c) => plan.tasks[c.taskIndex].taskId === 'sim-4')) {
      const times = receiver.attemptsByNonce.get(cb.nonce) as number[];
      expect(times).toHaveLength(6);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual([20, 40, 80, 160, 320][i] - 2));
    }
    // A task's callbacks go out in plan order: each after the previous one's first attempt.
    for (const task of plan.tasks) {
      const firstArrivals = plan.callbacks
        .filter((cb) => cb.taskIndex === task.index)
        .map((cb) => (receiver.attemptsByNonce.get(cb.nonce) as number[])[0]);
      for (let i = 1; i < firstArrivals.length; i++) {
        expect(firstArrivals[i]).toBeGreaterThanOrEqual(firstArrivals[i - 1]);
      }
    }
  });

  it('offers at most --rate new callbacks in any one-second window', async () => {
    const { summary } = await runSimulation({
      url: fine.url,
      secret: SECRET,
      tasks: 20,
      updates: 0,
      seed: 'rate',
      concurrency: 50,
      ratePerSecond: 20,
    });
    expect(summary).toMatchObject({ callbacks: 40, attempts: 40, deliveredFirstTry: 40 });
    const firsts = [...fine.attemptsByNonce.values()].map((times) => times[0]).sort((a, b) => a - b);
    expect(firsts).toHaveLength(40);
    for (let i = 0; i < firsts.length; i++) {
      const inWindow = firsts.filter((t) => t >= firsts[i] && t < firsts[i] + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(21);
    }
    // Without a rate the same 40 callbacks go out as fast as concurrency allows: well within a second.
    const unpaced = new FakeReceiver(fineBehavior);
    await unpaced.start();
    try {
      await runSimulation({ url: unpaced.url, secret: SECRET, tasks: 20, updates: 0, concurrency: 50 });
      const times = [...unpaced.attemptsByNonce.values()].map((t) => t[0]).sort((a, b) => a - b);
      expect(times.filter((t) => t < times[0] + 1000)).toHaveLength(40);
    } finally {
      await unpaced.stop();
    }
  });

  it('delivers duplicates, re-signed and late redeliveries in every encoding, all verifying', async () => {
    const slow = new FakeReceiver(fineBehavior, 20);
    await slow.start();
    try {
      const options: SimulationOptions = {
        url: `${slow.url}/zego/callback`,
        secret: SECRET,
        tasks: 30,
        updates: 3,
        seed: 'faults',
        duplicateRate: 0.3,
        resignRate: 0.2,
        reorderRate: 0.3,
        lateRate: 0.2,
        lateDelayMs: 200,
        encoding: 'mixed',
        concurrency: 8,
        nowMs: Date.now(),
      };
      const plan = planSimulation(options);
      const { summary, expected, lost } = await runSimulation(options);
      expect(lost).toEqual([]);
      expect(summary).toMatchObject({
        tasks: 30,
        callbacks: plan.callbacks.length,
        attempts: plan.callbacks.length,
        deliveredFirstTry: plan.callbacks.length,
        givenUp: 0,
        statusCounts: { '200': plan.callbacks.length },
      });
      expect(slow.badBodies).toEqual([]);
      expect(slow.arrivals).toHaveLength(plan.callbacks.length);
      expect(slow.maxInFlight).toBeLessThanOrEqual(8);
      expect(slow.maxInFlight).toBeGreaterThan(1);
      // Identical redeliveries repeat a nonce; distinct events are exactly the originals.
      const distinct = new Set(slow.arrivals.map((a) => `${a.taskId}/${a.event}/${a.sequence}`));
      expect(distinct.size).toBe(plan.callbacks.filter((cb) => cb.kind === 'original').length);
      for (const kind of ['duplicate', 'resigned', 'late'] as const) {
        expect(plan.callbacks.some((cb) => cb.kind === kind)).toBe(true);
      }
      // A late redelivery arrives at least its delay after its original's first attempt.
      for (const late of plan.callbacks.filter((cb) => cb.kind === 'late')) {
        const times = slow.attemptsByNonce.get(late.nonce) as number[];
        expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(late.delayMs - 2);
      }
      expect(expected).toHaveLength(30);
      expect(expected.map((e) => e.taskId)).toEqual(plan.tasks.map((t) => t.taskId));
    } finally {
      await slow.stop();
    }
  });

  describe('CLI', () => {
    const io = () => {
      const out: string[] = [];
      const err: string[] = [];
      return {
        out,
        err,
        io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), env: {} },
      };
    };

    it('prints JSON, writes the expected states and exits 0 when everything was acknowledged', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sim-cli-'));
      const expectFile = path.join(dir, 'expected.json');
      const { out, io: cliIo } = io();
      const argv = [
        '--url',
        fine.url,
        '--tasks',
        '5',
        '--seed',
        'cli',
        '--json',
        '--expect-file',
        expectFile,
      ];
      // The secret comes from the environment; with a rotation list the first one signs.
      const code = await runCli([...argv, '--duration', '2m', '--timeout', '2s'], {
        ...cliIo,
        env: { ZEGO_CALLBACK_SECRET: `${SECRET},older-secret` },
      });
      expect(code).toBe(0);
      const summary = JSON.parse(out.join(''));
      expect(summary).toMatchObject({ seed: 'cli', tasks: 5, givenUp: 0 });
      expect(summary.deliveredFirstTry).toBe(summary.callbacks);
      expect(fine.badBodies).toEqual([]);
      const expected = JSON.parse(readFileSync(expectFile, 'utf8'));
      expect(expected.seed).toBe('cli');
      expect(expected.tasks).toHaveLength(5);
      expect(expected.tasks[0]).toMatchObject({ appId: '111111', taskId: 'sim-cli-1' });
      expect(expected.tasks[0].durationSeconds).toBeGreaterThanOrEqual(60);
      expect(expected.tasks[0].durationSeconds).toBeLessThanOrEqual(120);
    });

    it('prints a table, and exits 1 when any callback is given up', async () => {
      const ok = io();
      expect(
        await runCli(['--url', fine.url, '--secret', SECRET, '--tasks', '2', '--updates', '3'], ok.io),
      ).toBe(0);
      expect(ok.out.join('')).toMatch(/delivered first try\s+\d+/);

      const bad = io();
      const code = await runCli(
        ['--url', `${fine.url}/always-503`, '--secret', SECRET, '--tasks', '2', '--retry-scale', '0'],
        bad.io,
      );
      expect(code).toBe(1);
      expect(bad.out.join('')).toMatch(/given up\s+[1-9]/);
      expect(bad.err.join('')).toMatch(/given up after ZEGO's retries/);
    });

    it.each([
      [['--tasks', '3'], /--url is required/],
      [['--url', 'http://127.0.0.1:9'], /--secret is required/],
      [['--url', 'http://127.0.0.1:9', '--secret', 's', '--tasks', 'many'], /--tasks "many" is not a number/],
      [['--url', 'http://127.0.0.1:9', '--secret', 's', '--duplicate-rate', '1.5'], /between 0 and 1/],
      [['--url', 'http://127.0.0.1:9', '--secret', 's', '--encoding', 'xml'], /encoding must be one of/],
      [
        ['--url', 'http://127.0.0.1:9', '--secret', 's', '--timeout', 'soon'],
        /--timeout "soon" is not a duration/,
      ],
      [['--url', 'http://127.0.0.1:9', '--secret', 's', '--bogus'], /Unknown option '--bogus'/],
      [['--url', 'http://127.0.0.1:9', '--secret', 's', '--duration', '10m'], /skew window/],
    ])('exits 2 on bad arguments %j', async (argv, message) => {
      const { err, io: cliIo } = io();
      expect(await runCli(argv, cliIo)).toBe(2);
      expect(err.join('')).toMatch(message);
    });

    it('prints help and exits 0', async () => {
      const { out, io: cliIo } = io();
      expect(await runCli(['--help'], cliIo)).toBe(0);
      expect(out.join('')).toMatch(/--retry-scale/);
    });
  });
});
