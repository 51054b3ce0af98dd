/**
 * The operator CLI as operators run it: a child process (`node --import tsx src/cli/main.ts …`)
 * against a running service (worker + HTTP server, real Temporal, PGlite) and the local fake of
 * ZEGO's server API. A start callback from a hand-written file, a stop from a recorded (pre-signed)
 * file, task queries, usage as JSON/CSV/table, a stop through ZEGO, and the exit codes.
 */
import { pollUntil } from '../../tools/process/poll';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeZegoApi, type FakeZegoApi } from '../helpers/fake-zego-api';
import { startTestService, uniqueTask, type TestService } from '../helpers/service';
import { encodeCallback, signCallback, TEST_CALLBACK_SECRET } from '../../tools/callbacks/signed-callback';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'src/cli/main.ts');
const SERVER_SECRET = 'test-server-secret';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let svc: TestService;
let zego: FakeZegoApi;
let dir: string;

/**
 * Runs the CLI with the service's admin token in ADMIN_TOKEN (as an operator's shell would have it);
 * the rest of the environment is the test's minus any ZEGO_ or ADMIN_ variable a developer may have set.
 */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('ZEGO_') && !k.startsWith('ADMIN_')),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: ROOT,
      env: { ...base, ZEGO_SERVICE_URL: svc.url, ADMIN_TOKEN: svc.env.ADMIN_TOKEN, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  return (await pollUntil(fn, ok, { timeoutMs, everyMs: 300 })).value;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'zego-cli-'));
  svc = await startTestService({ database: 'embedded' });
});
afterAll(async () => {
  await svc?.stop();
  await zego?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('zego-transcode CLI', () => {
  const { appId, taskId } = uniqueTask('cli');
  const zegoEnv = () => ({
    ZEGO_APP_ID: appId,
    ZEGO_SERVER_SECRET: SERVER_SECRET,
    ZEGO_API_BASE_URL: zego.url,
  });
  let startedAt: string;

  beforeAll(async () => {
    zego = await startFakeZegoApi({ appId, serverSecret: SERVER_SECRET });
  });

  test('callbacks send: a hand-written start file, signed with a fresh Timestamp and Nonce', async () => {
    const file = path.join(dir, 'start.json');
    await writeFile(
      file,
      JSON.stringify({
        Event: 'transcode_start',
        Appid: appId,
        TaskId: taskId,
        UserId: 'cli-user',
        Sequence: 0,
        Status: 'TranscodeStarted',
        Details: { Input: { StreamId: 'in' }, Outputs: [{ StreamId: 'out', Width: 1280, Height: 720 }] },
      }),
    );
    const sent = await cli(['callbacks', 'send', file, '--secret', TEST_CALLBACK_SECRET]);
    expect(sent).toMatchObject({ code: 0 });
    expect(sent.stdout).toMatch(/^HTTP 200 accepted .*transcode_start/);

    const doc = await svc.waitForTask(appId, taskId, (d) => d.status === 'running');
    expect(doc.userId).toBe('cli-user');
    startedAt = doc.startedAt as string;
  });

  test('callbacks send: the secret from ZEGO_CALLBACK_SECRET, --json; a wrong secret is refused (exit 1)', async () => {
    const file = path.join(dir, 'start.json');
    const again = await cli(['callbacks', 'send', file, '--json', '--encoding', 'form'], {
      ZEGO_CALLBACK_SECRET: `${TEST_CALLBACK_SECRET},older-secret`,
    });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      status: 200,
      response: { ok: true },
      sent: { event: 'transcode_start', taskId, encoding: 'form' },
    });
    const wrong = await cli(['callbacks', 'send', file, '--secret', 'not-the-secret']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^HTTP 401 /);
    const none = await cli(['callbacks', 'send', file]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/ZEGO_CALLBACK_SECRET/);
  });

  test('callbacks list and redeliver: the log of the task, one entry handed back, none rejected', async () => {
    // Both sends of the start were recorded; wait until the relay has handed them over.
    const listed = await until(
      () => cli(['callbacks', 'list', '--task', taskId, '--json']),
      (r) =>
        r.code === 0 && (JSON.parse(r.stdout) as { status: string }[]).every((e) => e.status === 'delivered'),
    );
    const entries = JSON.parse(listed.stdout) as {
      id: string;
      status: string;
      event: string;
      outcome: string;
    }[];
    expect(entries).toHaveLength(2);
    expect(entries.map((e) => [e.event, e.status, e.outcome])).toEqual([
      ['transcode_start', 'delivered', 'accepted'],
      ['transcode_start', 'delivered', 'accepted'],
    ]);
    const table = await cli(['callbacks', 'list', '--app', appId, '--status', 'delivered']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID +STATUS +EVENT +SEQ +APP +TASK +RECEIVED +DELIVERED +ATTEMPTS/m);
    expect(table.stdout).toMatch(
      new RegExp(`^${entries[0].id} +delivered +TranscodeStarted +0 +${appId} +${taskId} `, 'm'),
    );

    const again = await cli(['callbacks', 'redeliver', entries[1].id]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      new RegExp(`^callback ${entries[1].id} \\(transcode_start Sequence 0 of task ${taskId}\\) is pending`),
    );
    const doc = await svc.waitForTask(appId, taskId, (d) => d.events[0]?.deliveries === 3);
    expect(doc.status).toBe('running');
    const none = await cli(['callbacks', 'redeliver', '--status', 'rejected', '--json']);
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout)).toMatchObject({ redelivered: 0 });
    expect((await cli(['callbacks', 'redeliver', '99999999'])).code).toBe(1);
    expect((await cli(['callbacks', 'redeliver', 'x1'])).code).toBe(2);
    expect((await cli(['callbacks', 'list', '--status', 'lost'])).code).toBe(2);
  });

  test('tasks show: table and --json', async () => {
    const table = await cli(['tasks', 'show', taskId, '--app', appId]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^Task +${taskId}$`, 'm'));
    expect(table.stdout).toMatch(/^Status +running$/m);
    expect(table.stdout).toMatch(/^User +cli-user$/m);
    expect(table.stdout).toMatch(/^ {2}transcode_start +TranscodeStarted +0 /m);

    // A unique TaskId needs no --app (found through visibility, which may lag a moment).
    const json = await until(
      () => cli(['tasks', 'show', taskId, '--json']),
      (r) => r.code === 0,
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ appId, taskId, userId: 'cli-user', status: 'running' });
  });

  test('tasks list --status running', async () => {
    const listed = await until(
      () => cli(['tasks', 'list', '--status', 'running', '--app', appId, '--limit', '10']),
      (r) => r.stdout.includes(taskId),
    );
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^APP +TASK +USER +STATUS +EXECUTION +STARTED +CLOSED$/m);
    expect(listed.stdout).toMatch(new RegExp(`^${appId} +${taskId} +cli-user +running +RUNNING `, 'm'));

    const json = await cli(['tasks', 'list', '--status', 'running', '--app', appId, '--json']);
    expect(JSON.parse(json.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ appId, taskId, status: 'running' })]),
    );
  });

  test("tasks stop: StopCloudTranscode at ZEGO with the task's UserId and maxSequence + 1", async () => {
    zego.running.add(taskId);
    const stopped = await cli(['tasks', 'stop', taskId], zegoEnv());
    expect(stopped.stderr).toBe('');
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/ZEGO accepted StopCloudTranscode/);
    const calls = zego.requests.filter((r) => r.action === 'StopCloudTranscode');
    expect(calls).toHaveLength(1);
    expect(calls[0].body).toEqual({ TaskId: taskId, UserId: 'cli-user', Sequence: 1 });
    expect(calls[0].response).toEqual({ httpStatus: 200, code: 0 });
  });

  test('callbacks send --keep-signature: a recorded stop, URL-encoded JSON; the task stops and is billed', async () => {
    // As ZEGO would have sent it 90 s after the start (the skew window of the tests is 1 h).
    const stopTs = String(Date.parse(startedAt) / 1000 + 90);
    const recorded = signCallback(
      {
        Event: 'transcode_stop',
        Appid: appId,
        TaskId: taskId,
        UserId: 'cli-user',
        Sequence: 1,
        Status: 'TranscodeStopped',
        StopReason: 0,
      },
      { timestamp: stopTs },
    );
    const file = path.join(dir, 'stop.txt');
    await writeFile(file, encodeCallback(recorded, 'urlencoded-json').body);
    const sent = await cli(['callbacks', 'send', file, '--keep-signature', '--encoding', 'urlencoded-json']);
    expect(sent).toMatchObject({ code: 0 });
    expect(sent.stdout).toMatch(/^HTTP 200 accepted .*transcode_stop.*sequence 1/);

    const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    expect(doc).toMatchObject({ status: 'stopped', durationSeconds: 90 });

    const table = await cli(['tasks', 'show', taskId, '--app', appId]);
    expect(table.stdout).toMatch(/^Status +stopped \(stop reason 0\)$/m);
    expect(table.stdout).toMatch(/^Billing +finalized: 2 min, 0.05 CNY$/m);
    expect(table.stdout).toMatch(/^ {2}hd +90 +2 +0.05$/m);
  });

  test('usage: --json, --csv and the table', async () => {
    const stoppedDay = new Date(Date.parse(startedAt) + 90_000).toISOString().slice(0, 10);
    const nextDay = new Date(Date.parse(stoppedDay) + 86_400_000).toISOString().slice(0, 10);
    const args = ['usage', '--app', appId, '--from', stoppedDay, '--to', nextDay];

    const json = await cli([...args, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: true,
      appId,
      from: `${stoppedDay}T00:00:00.000Z`,
      to: `${nextDay}T00:00:00.000Z`,
      groupBy: 'day',
      currency: 'CNY',
      rows: [{ group: stoppedDay, tier: 'hd', seconds: 90, minutes: 2, cost: 0.05, lifecycles: 1 }],
      totals: {
        seconds: 90,
        minutes: 2,
        cost: 0.05,
        lifecycles: 1,
        byTier: { hd: { seconds: 90, minutes: 2, cost: 0.05, lifecycles: 1 } },
      },
    });

    const csv = await cli([...args, '--group-by', 'user', '--csv']);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe('user,tier,seconds,minutes,cost,lifecycles\r\ncli-user,hd,90,2,0.05,1\r\n');

    const table = await cli(args);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^${stoppedDay} +hd +1 +90 +2 +0.05$`, 'm'));
    expect(table.stdout).toMatch(/^total +all +1 +90 +2 +0.05$/m);

    const bad = await cli(['usage', '--app', appId, '--from', 'last week', '--to', nextDay]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/from/);
  });

  test('tasks stop of a task ZEGO no longer knows: "task not found", exit 1', async () => {
    const again = await cli(['tasks', 'stop', taskId, '--app', appId], zegoEnv());
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already saw this lifecycle end \(status stopped\)/);
    expect(again.stderr).toMatch(/ZEGO does not know task .* \(task not found, Code 110209001\)/);
    const otherApp = await cli(['tasks', 'stop', taskId, '--app', '42'], zegoEnv());
    expect(otherApp.code).toBe(2);
    const noCredentials = await cli(['tasks', 'stop', taskId]);
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.stderr).toMatch(/ZEGO_APP_ID and ZEGO_SERVER_SECRET/);
  });

  test('a TaskId in several apps: 409 becomes a hint to pass --app (exit 2)', async () => {
    const otherApp = String(Number(appId) + 1);
    const start = signCallback({
      Event: 'transcode_start',
      Appid: otherApp,
      TaskId: taskId,
      UserId: 'cli-user',
      Sequence: 0,
      Status: 'TranscodeStarted',
      Details: { Input: { StreamId: 'in' }, Outputs: [{ StreamId: 'out', Width: 640, Height: 360 }] },
    });
    expect((await svc.post(start)).status).toBe(200);
    const ambiguous = await until(
      () => cli(['tasks', 'show', taskId]),
      (r) => r.code === 2,
    );
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/exists in several apps: /);
    expect(ambiguous.stderr).toMatch(/hint: pass --app <appId>, e.g. --app \d+/);
  });

  test('the admin token: ADMIN_TOKEN or --token; none or a wrong one is refused with a hint (exit 1)', async () => {
    const withFlag = await cli(['tasks', 'list', '--token', svc.env.ADMIN_TOKEN], { ADMIN_TOKEN: '' });
    expect(withFlag.code).toBe(0);
    const none = await cli(['tasks', 'list'], { ADMIN_TOKEN: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/admin token required/);
    expect(none.stderr).toMatch(/hint: pass the admin token with --token or ADMIN_TOKEN/);
    const wrong = await cli(['tasks', 'list', '--token', 'wrong-token-wrong-token']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/admin token not accepted/);
    expect(wrong.stderr + wrong.stdout).not.toContain('wrong-token-wrong-token');
  });

  test('exit codes: unknown task 1, bad flag 2, unreachable service 1', async () => {
    const unknown = await cli(['tasks', 'show', 'no-such-task', '--app', appId]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(`error: task no-such-task not found in app ${appId}`);

    const badFlag = await cli(['tasks', 'list', '--bogus']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/Unknown option '--bogus'/);
    expect((await cli(['tasks', 'list', '--limit', 'ten'])).code).toBe(2);
    expect((await cli(['tasks', 'frobnicate'])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
    expect((await cli(['--help'])).code).toBe(0);

    const port = await closedPort();
    const down = await cli(['tasks', 'list', '--url', `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the service at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(down.stderr).toMatch(/hint: is it running\?/);
  });
});
