/**
 * `npm run build` (second step): bundles the lifecycle workflow code once, at build time, into
 * `dist/workflow-bundle.js`. The compiled worker (`node dist/src/main/worker.js`) loads that file
 * instead of running webpack at every start. An argument overrides the output path.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleLifecycleWorkflows } from '../src/temporal/worker';

const DEFAULT_BUNDLE_PATH = path.resolve(__dirname, '..', 'dist', 'workflow-bundle.js');

async function main(): Promise<void> {
  const started = Date.now();
  const out = path.resolve(process.argv[2] ?? DEFAULT_BUNDLE_PATH);
  const code = await bundleLifecycleWorkflows();
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, code);
  const kib = (statSync(out).size / 1024).toFixed(0);
  process.stdout.write(
    `workflow bundle written to ${path.relative(process.cwd(), out) || out} (${kib} KiB, ${Date.now() - started} ms)\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `workflow bundle failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
