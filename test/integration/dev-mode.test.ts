/**
 * `npm run dev` end to end, as the README's quick start runs it: src/main/dev.ts as a process of its
 * own on a fresh DATA_DIR (its embedded Temporal dev server, PGlite inbox, worker and HTTP server),
 * a signed start and stop through its callback URL, the bill through its admin API with the token it
 * generated, a clean SIGTERM, and a restart on the same directory that keeps the task, the bill and
 * the generated credentials.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { locateTemporalCli } from '../../tools/temporal-cli';
import { freePort } from '../../tools/process/ports';
import { pollUntil } from '../../tools/process/poll';
import { spawnChild, type Child } from '../../tools/process/service-children';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';
import { uniqueTask, zegoTime } from '../helpers/service';

/** The part of the state document (contract: GET /apps/:appId/tasks/:taskId) this test reads. */
interface TaskReply {
  status?: string;
  billing?: { status?: string; billableMinutes?: number };
}

describe('npm run dev (src/main/dev.ts as its own process)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'zego-dev-mode-'));
  const dataDir = path.join(dir, 'data');
  let env: Record<string, string | undefined>;
  let dev: Child | undefined;

  async function startDev(): Promise<Child> {
    dev = await spawnChild({
      entry: 'src/main/dev.ts',
      name: 'dev',
      env,
      logFile: path.join(dir, 'dev.log'),
      readyWhen: 'zego-transcode-lifecycle is running (embedded)',
      readyTimeoutMs: 180_000,
    });
    return dev;
  }

  beforeAll(async () => {
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_CLI_PATH: await locateTemporalCli(),
      // No developer profile may leak in: a temporal.toml that does not exist.
      TEMPORAL_CONFIG_FILE: path.join(dir, 'no-temporal.toml'),
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_DEV_UI_PORT: String(await freePort()),
      WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE,
      LOG_LEVEL: 'info',
    };
  });
  afterAll(async () => {
    await dev?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes callbacks, bills them, stops cleanly and keeps everything across a restart', async () => {
    const base = `http://127.0.0.1:${env.PORT}`;
    await startDev();
    // It generated a callback secret and an admin token, printed them and kept them under DATA_DIR.
    const secret = readFileSync(path.join(dataDir, 'callback-secret'), 'utf8').trim();
    const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    expect(dev!.output()).toContain(`callback URL     ${base}/zego/callback`);
    expect(dev!.output()).toContain(`callback secret  ${secret} (generated`);
    expect(dev!.output()).toContain(`admin token      ${token} (generated`);

    const post = async (body: Record<string, unknown>) => {
      const { body: text, contentType } = encodeCallback(body);
      const res = await fetch(`${base}/zego/callback`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: text,
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const task = async (appId: string, taskId: string, auth = `Bearer ${token}`) => {
      const res = await fetch(`${base}/apps/${appId}/tasks/${taskId}`, { headers: { authorization: auth } });
      return { status: res.status, json: (await res.json()) as TaskReply };
    };

    const { appId, taskId } = uniqueTask('dev');
    const now = Number(zegoTime());
    const start = transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 120) }, { secret });
    const stop = transcodeStop(
      { Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) },
      { secret },
    );
    expect(await post(start)).toMatchObject({ status: 200, json: { ok: true, outcome: 'accepted' } });
    expect(await post(stop)).toMatchObject({ status: 200, json: { ok: true, outcome: 'accepted' } });
    // Signed with another secret: refused.
    expect(
      (await post(transcodeStart({ Appid: appId, TaskId: `${taskId}-x` }, { secret: 'other' }))).status,
    ).toBe(401);

    const billed = await pollUntil(
      () => task(appId, taskId),
      (r) => r.status === 200 && r.json.billing?.status === 'finalized',
      { timeoutMs: 90_000 },
    );
    expect(billed.done).toBe(true);
    expect(billed.value.json).toMatchObject({ status: 'stopped', billing: { billableMinutes: 2 } });
    // The admin API wants the token.
    expect((await task(appId, taskId, 'Bearer wrong-token-0123456789')).status).toBe(401);

    // SIGTERM: a clean exit (the HTTP server, the worker and the dev server it started all stop).
    await dev!.stop(30_000);
    expect(dev!.process.signalCode).toBeNull();
    expect(dev!.process.exitCode).toBe(0);

    // The same DATA_DIR again: the same credentials, and the task and its bill are still there.
    await startDev();
    expect(readFileSync(path.join(dataDir, 'callback-secret'), 'utf8').trim()).toBe(secret);
    expect(dev!.output()).toContain(`admin token      ${token} (generated`);
    const again = await task(appId, taskId);
    expect(again).toMatchObject({
      status: 200,
      json: { status: 'stopped', billing: { billableMinutes: 2 } },
    });
    // A repeat of the stop after the restart is a duplicate, not a second bill.
    expect((await post(stop)).status).toBe(200);
    const repeat = await task(appId, taskId);
    expect(repeat.json.billing).toEqual(again.json.billing);
  }, 420_000);
});
