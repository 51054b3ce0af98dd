// Run by sdk-download.ts as `node sdk-download-child.js <@temporalio/testing entry> <download dir>`:
// TestWorkflowEnvironment.createLocal downloads the CLI into the directory and starts it once.
// A child of its own, so the SDK's forwarding of the server's output and a timed-out download can
// be killed with its process group. Plain JavaScript: it runs without tsx, from dist/ as well.
/* global require, process */
'use strict';

const [entry, downloadDir] = process.argv.slice(2);
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS script loading the SDK by its resolved path
const { TestWorkflowEnvironment } = require(entry);
TestWorkflowEnvironment.createLocal({
  server: { ip: '127.0.0.1', executable: { type: 'cached-download', downloadDir, ttl: '3650d' } },
}).then(
  async (testEnv) => {
    await testEnv.teardown();
    process.exit(0);
  },
  (err) => {
    process.stderr.write(String((err && err.message) || err) + '\n');
    process.exit(2);
  },
);
