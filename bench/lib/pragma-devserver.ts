/**
 * A file-backed Temporal dev server started with extra `--sqlite-pragma` settings (what
 * src/temporal/dev-server.ts does not pass today), to measure what they change. Started with the
 * same flags as startDevServer otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { searchAttributes } from '../../workflows/definitions';
import { freePort } from '../../src/temporal/dev-server';

export interface PragmaDevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startPragmaDevServer(
  cliPath: string,
  dbFilename: string,
  pragmas: string[],
): Promise<PragmaDevServer> {
  const port = await freePort();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'];
  args.push(
    '--log-level',
    'error',
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
  );
  args.push('--db-filename', dbFilename);
  for (const p of pragmas) args.push('--sqlite-pragma', p);
  for (const key of Object.values(searchAttributes)) args.push('--search-attribute', `${key.name}=Keyword`);
  args.push('--dynamic-config-value', 'frontend.enableServerVersionCheck=false');
  const child = spawn(cliPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const onExit = () => child.kill('SIGKILL');
  process.on('exit', onExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dev server with ${pragmas.join(' ')} exited: ${stderr}`);
    try {
      const c = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await c.workflowService.describeNamespace({ namespace: 'default' });
        break;
      } finally {
        await c.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return {
    address,
    process: child,
    async stop() {
      process.removeListener('exit', onExit);
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
