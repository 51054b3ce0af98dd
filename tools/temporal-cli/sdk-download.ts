/**
 * Step "download": the Temporal SDK's `cached-download` executable. `TestWorkflowEnvironment.createLocal`
 * downloads the CLI into `downloadDir` (as `temporal-sdk-typescript-<version>`) and starts it once.
 * That runs in a child Node process of its own process group (sdk-download-child.js), then the
 * verified binary is moved to `bin/`. Needs temporal.download.
 */
import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { oneLine, seconds, truncate } from '../format';
import { forEachLine } from '../process/child-output';
import { killTree } from '../process/signals';
import type { CacheLayout } from './cache';
import { cliVersion, isExecutableFile, type LocatorLogger, type StepResult } from './verify';

const CHILD_SCRIPT = path.join(__dirname, 'sdk-download-child.js');

export async function trySdkDownload(
  layout: CacheLayout,
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
  log: LocatorLogger,
): Promise<StepResult> {
  const started = Date.now();
  let testingEntry: string;
  try {
    testingEntry = require.resolve('@temporalio/testing');
  } catch (err) {
    return { reason: `@temporalio/testing not installed: ${oneLine(err)}` };
  }
  const hasProxy = ['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy'].some((k) => env[k]);
  if (!hasProxy) {
    const reach = await canReach('temporal.download', 443, 5_000);
    if (reach !== true) {
      log(`skipping the SDK download: temporal.download unreachable (${reach}, ${seconds(started)})`);
      return { reason: `temporal.download unreachable: ${reach}` };
    }
  }
  await fs.mkdir(layout.sdkDownloadDir, { recursive: true });
  log(`downloading the Temporal CLI through @temporalio/testing into ${layout.sdkDownloadDir} ...`);

  const outcome = await new Promise<{ code: number | null; timedOut: boolean; tail: string[] }>((resolve) => {
    const child = spawn(process.execPath, [CHILD_SCRIPT, testingEntry, layout.sdkDownloadDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      env,
    });
    const tail: string[] = [];
    const onLine = (line: string) => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      log(`  sdk: ${line}`);
    };
    forEachLine(child.stdout, onLine);
    forEachLine(child.stderr, onLine);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child.pid);
    }, timeoutMs);
    // Its own process group (so a timeout also takes down a server it may have started): make sure
    // it does not outlive us either.
    const onExit = () => killTree(child.pid);
    process.once('exit', onExit);
    child.on('error', (err) => onLine(String(err)));
    child.on('close', (code) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      resolve({ code, timedOut, tail });
    });
  });

  // The binary may be there even if the short server start failed: look regardless of the outcome.
  const downloaded = await findSdkDownload(layout.sdkDownloadDir);
  if (downloaded) {
    try {
      const version = await cliVersion(downloaded);
      await fs.mkdir(path.dirname(layout.sdkBin), { recursive: true });
      await fs.rename(downloaded, layout.sdkBin);
      log(`downloaded ${layout.sdkBin} (${version}) in ${seconds(started)}`);
      return { found: layout.sdkBin };
    } catch (err) {
      log(`downloaded file ${downloaded} is not a working CLI: ${oneLine(err)}`);
      await fs.rm(downloaded, { force: true });
    }
  }
  const why = outcome.timedOut
    ? `timed out after ${Math.round(timeoutMs / 1000)}s`
    : `failed: ${compactSdkError(outcome.tail.at(-1) ?? `exit code ${outcome.code}`)}`;
  log(`SDK download ${why} (${seconds(started)})`);
  return { reason: truncate(why, 200) };
}

/** The SDK's download errors repeat the URL and their own prefix: keep what says what went wrong. */
function compactSdkError(message: string): string {
  const parts = message.replace(/ for url \([^)]*\)/g, '').split(': ');
  return parts.filter((part, i) => part !== parts[i - 1]).join(': ');
}

async function findSdkDownload(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return null;
  }
  const candidates = names.filter((n) => n.startsWith('temporal') && !n.endsWith('.downloading'));
  for (const name of candidates) {
    const full = path.join(dir, name);
    if (await isExecutableFile(full)) return full;
  }
  return null;
}

/** true, or why not: a DNS lookup and a TCP connect, each bounded, so a black-holed network fails fast. */
async function canReach(host: string, port: number, timeoutMs: number): Promise<true | string> {
  try {
    const { address } = await withTimeout(lookup(host), timeoutMs, `DNS lookup of ${host} timed out`);
    return await new Promise<true | string>((resolve) => {
      const socket = net.connect({ host: address, port });
      const done = (result: true | string) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(timeoutMs, () => done(`connect to ${host}:${port} timed out`));
      socket.once('connect', () => done(true));
      socket.once('error', (err) => done(oneLine(err)));
    });
  } catch (err) {
    return oneLine(err);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
