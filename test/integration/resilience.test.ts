/**
 * What must hold when things break: Temporal unreachable (503 with Retry-After, nothing changed,
 * accepted once it is back) and a worker SIGKILLed mid-lifecycle (billing still exactly once).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { locateTemporalCli } from '../../src/temporal/cli-locator';
import { freePort, startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { ledgerRows, startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import { transcodeStart, transcodeStop } from '../helpers/signed-callback';

const ROOT = path.resolve(__dirname, '../..');

describe('Temporal unreachable', () => {
  let dir: string;
  let temporal: DevServer | undefined;
  let svc: TestService | undefined;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'zego-down-'));
  });
  afterAll(async () => {
    await svc?.stop();
    await temporal?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while Temporal is down, changes nothing, and accepts the retry once it is back', async () => {
    const cliPath = await locateTemporalCli();
    const port = await freePort();
    const start = () =>
      startDevServer({ cliPath, port, headless: true, dbFilename: path.join(dir, 'temporal.db') });
    temporal = await start();
    svc = await startTestService({ database: 'postgres', temporalAddress: temporal.address });

    const { appId, taskId } = uniqueTask('down');
    const now = Number(zegoTime());
    expect(
      (await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 120) }))).status,
    ).toBe(200);
    await svc.waitForTask(appId, taskId, (d) => d.status === 'running');

    await temporal.stop();
    const stop = transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) });
    const refused = await svc.post(stop);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.json.ok).toBe(false);
    expect((await svc.get('/readyz')).status).toBe(503);
    expect((await svc.get('/healthz')).status).toBe(200);

    temporal = await start(); // same port and database file: the server comes back with its state
    // ZEGO's retry of the same body (here: retried until accepted, as ZEGO's 2/4/8/16/32 s schedule would).
    let accepted = await svc.post(stop);
    for (let i = 0; accepted.status !== 200 && i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      accepted = await svc.post(stop);
    }
    expect(accepted.status).toBe(200);
    const doc = await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized', 60_000);
    expect(doc).toMatchObject({ status: 'stopped', durationSeconds: 120 });
    expect(doc.events.find((e) => e.event === 'transcode_stop')?.deliveries).toBe(1);
    expect(await ledgerRows(svc.db, appId, taskId)).toHaveLength(1);
    expect((await svc.get('/readyz')).status).toBe(200);
  }, 180_000);
});

describe('worker killed and restarted mid-lifecycle', () => {
  let svc: TestService;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    svc = await startTestService({ database: 'postgres', withoutWorker: true });
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await svc?.stop();
  });

  /** `npm run worker`'s entry point as its own process, ready once it logs "worker started". */
  let metricsAddress = '';
  async function spawnWorker(): Promise<ChildProcess> {
    metricsAddress = `127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main/worker.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...svc.env,
        WORKER_METRICS_ADDRESS: metricsAddress,
        LOG_LEVEL: 'info',
        WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    workers.push(child);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 90_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('worker started')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${output}`)));
    });
    return child;
  }

  function kill(child: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  it('bills exactly once when the worker dies between start and stop, and right after the stop', async () => {
    const first = uniqueTask('crash');
    const second = uniqueTask('crash');
    const now = Number(zegoTime());

    let worker = await spawnWorker();
    await svc.post(
      transcodeStart({ Appid: first.appId, TaskId: first.taskId, Timestamp: String(now - 300) }),
    );
    await svc.waitForTask(first.appId, first.taskId, (d) => d.status === 'running');
    await kill(worker);
    // Accepted while no worker runs: Temporal holds it durably.
    const stop = await svc.post(
      transcodeStop({ Appid: first.appId, TaskId: first.taskId, Sequence: 1, Timestamp: String(now) }),
    );
    expect(stop.status).toBe(200);

    worker = await spawnWorker();
    const doc = await svc.waitForTask(
      first.appId,
      first.taskId,
      (d) => d.billing.status === 'finalized',
      90_000,
    );
    expect(doc.billing).toMatchObject({ billableMinutes: 5, totalCost: 0.125 });

    // Kill it again just as the second lifecycle's settlement (billing, cleanup) is under way.
    await svc.post(
      transcodeStart({ Appid: second.appId, TaskId: second.taskId, Timestamp: String(now - 60) }),
    );
    await svc.waitForTask(second.appId, second.taskId, (d) => d.status === 'running');
    await svc.post(
      transcodeStop({ Appid: second.appId, TaskId: second.taskId, Sequence: 1, Timestamp: String(now) }),
    );
    await new Promise((r) => setTimeout(r, 30));
    await kill(worker);
    await spawnWorker();
    const doc2 = await svc.waitForTask(
      second.appId,
      second.taskId,
      (d) => d.billing.status === 'finalized',
      90_000,
    );
    expect(doc2.billing).toMatchObject({ billableMinutes: 1 });

    expect(await ledgerRows(svc.db, first.appId, first.taskId)).toHaveLength(1);
    expect(await ledgerRows(svc.db, second.appId, second.taskId)).toHaveLength(1);
    // The worker's own Temporal SDK metrics, for scraping.
    const metrics = await (await fetch(`http://${metricsAddress}/metrics`)).text();
    expect(metrics).toMatch(/temporal_workflow_completed|temporal_activity_execution/);
  }, 300_000);
});
