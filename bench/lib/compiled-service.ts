/**
 * The service compiled as `npm run build` compiles it (tsconfig.build.json), for the workers whose
 * memory the bench reports as shipped: the Dockerfile runs `node dist/src/main/worker.js`, and a
 * worker started with tsx also carries tsx's loader thread and transpile cache (about 65 MiB of RSS
 * idle on this machine). Compiled once per run into `.cache/bench-dist/` inside the checkout, so the
 * compiled modules resolve the checkout's node_modules; the workflow bundle comes from
 * WORKFLOW_BUNDLE_PATH, as every bench worker's does.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../tools/process/service-children';

const OUT_DIR = path.join('.cache', 'bench-dist');

let compiled: Promise<string> | undefined;

/** The compiled worker's entry, relative to the checkout (compiles on first use). */
export function compiledWorkerEntry(): Promise<string> {
  compiled ??= (async () => {
    rmSync(path.join(ROOT, OUT_DIR), { recursive: true, force: true });
    await promisify(execFile)(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', OUT_DIR],
      { cwd: ROOT },
    );
    return path.join(OUT_DIR, 'src', 'main', 'worker.js');
  })();
  return compiled;
}
