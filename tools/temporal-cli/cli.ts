/** `npm run temporal:cli`: progress on stderr, the CLI's path on stdout, exit 1 with one line on failure. */
import { seconds } from '../format';
import { locateTemporalCli } from './index';

const started = Date.now();
locateTemporalCli({ logger: (line) => process.stderr.write(`[temporal-cli] ${line}\n`) }).then(
  (cliPath) => {
    process.stderr.write(`[temporal-cli] ready in ${seconds(started)}\n`);
    process.stdout.write(`${cliPath}\n`);
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
