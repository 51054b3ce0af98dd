/**
 * `npm run build` (second step): bundles the lifecycle workflow code once, at build time, into
 * `dist/workflow-bundle.js` and, with the OpenTelemetry workflow interceptors, into
 * `dist/workflow-bundle.tracing.js`. The compiled worker (`node dist/src/main/worker.js`) loads the
 * one that matches its tracing setting instead of running webpack at every start. An argument
 * overrides the plain bundle's path (the tracing one goes next to it).
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleLifecycleWorkflows } from '../src/temporal/worker';

const DEFAULT_BUNDLE_PATH = path.resolve(__dirname, '..', 'dist', 'workflow-bundle.js');

async function main(): Promise<void> {
  const started = Date.now();
  const out = path.resolve(process.argv[2] ?? DEFAULT_BUNDLE_PATH);
  const tracingOut = out.replace(/(\.js)?$/, '.tracing.js');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, await bundleLifecycleWorkflows());
  writeFileSync(tracingOut, await bundleLifecycleWorkflows({ tracing: true }));
  const kib = (file: string) => (statSync(file).size / 1024).toFixed(0);
  process.stdout.write(
    `workflow bundles written to ${path.relative(process.cwd(), out) || out} (${kib(out)} KiB) and ` +
      `${path.relative(process.cwd(), tracingOut) || tracingOut} (${kib(tracingOut)} KiB) in ${Date.now() - started} ms\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `workflow bundle failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
