/**
 * Graceful shutdown: SIGTERM to `npm run server`'s process in the middle of a burst of callbacks.
 * It reports not-ready (for SHUTDOWN_DELAY), finishes the hand-offs in flight, exits 0. Every callback it answered 200
 * has its effect; every other answer (503, refused connection) succeeds when ZEGO retries it
 * against the replacement.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../tools/process/ports';
import { ledgerRows, startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import {
  encodeCallback,
  transcodeStart,
  transcodeStop,
  type ZegoCallbackBody,
} from '../../tools/callbacks/signed-callback';

const ROOT = path.resolve(__dirname, '../..');

describe('graceful shutdown of the HTTP server', () => {
  let svc: TestService;
  const servers: ChildProcess[] = [];

  beforeAll(async () => {
    svc = await startTestService({ database: 'postgres' });
  });
  afterAll(async () => {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    await svc?.stop();
  });

  async function spawnServer(): Promise<{
    url: string;
    child: ChildProcess;
    exited: Promise<number | null>;
  }> {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main/server.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...svc.env, PORT: String(port), SHUTDOWN_DELAY: '2s', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    servers.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      const ready = await fetch(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return { url, child, exited };
      await sleep(100);
    }
    throw new Error('server did not become ready');
  }

  async function send(url: string, body: ZegoCallbackBody): Promise<number | 'refused'> {
    const { body: text, contentType } = encodeCallback(body);
    try {
      const res = await fetch(`${url}/zego/callback`, {
        method: 'POST',
        body: text,
        headers: { 'content-type': contentType },
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 'refused';
    }
  }

  it('SIGTERM during a burst: every 200 has its effect, every other answer succeeds on retry', async () => {
    const first = await spawnServer();
    const now = Number(zegoTime());
    const tasks = Array.from({ length: 100 }, () => uniqueTask('drain'));
    const callbacks = tasks.flatMap(({ appId, taskId }) => [
      transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 120) }),
      transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) }),
    ]);

    // The burst: 8 senders; SIGTERM once a quarter of it has been answered. After that the senders
    // pace themselves (200 ms) so the burst outlives the 2 s drain whatever the machine's load.
    const answers = new Map<ZegoCallbackBody, number | 'refused'>();
    let next = 0;
    let sawNotReady = false;
    let terminated = false;
    const sender = async () => {
      while (next < callbacks.length) {
        if (terminated) await sleep(200);
        const cb = callbacks[next++];
        if (!cb) break;
        answers.set(cb, await send(first.url, cb));
        if (answers.size === callbacks.length / 4) {
          first.child.kill('SIGTERM');
          terminated = true;
          // SHUTDOWN_DELAY is 2 s: readiness turns 503 while callbacks are still answered. Poll
          // until readiness leaves 200 (a loaded machine may take a while to deliver the signal).
          for (let i = 0; i < 750; i++) {
            const ready = await fetch(`${first.url}/readyz`).then(
              (r) => r.status,
              () => 'refused',
            );
            if (ready === 200) {
              await sleep(20);
              continue;
            }
            sawNotReady = ready === 503;
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    expect(await first.exited).toBe(0);
    expect(sawNotReady).toBe(true);

    const accepted = callbacks.filter((cb) => answers.get(cb) === 200);
    const refused = callbacks.filter((cb) => answers.get(cb) !== 200);
    expect(accepted.length).toBeGreaterThanOrEqual(callbacks.length / 4);
    expect(refused.length).toBeGreaterThan(0); // the burst outlived the server
    expect(refused.every((cb) => answers.get(cb) === 503 || answers.get(cb) === 'refused')).toBe(true);

    // ZEGO retries what was not answered 200, against the replacement replica.
    const second = await spawnServer();
    for (const cb of refused) expect(await send(second.url, cb)).toBe(200);

    for (const { appId, taskId } of tasks) {
      const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 60_000);
      expect(doc).toMatchObject({ status: 'stopped', durationSeconds: 120 });
      // Each callback had its effect exactly once: one delivery each, one ledger row.
      expect(doc.events.map((e) => e.deliveries)).toEqual([1, 1]);
      expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 240_000);
});
