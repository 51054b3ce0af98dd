/**
 * Writes docs/configuration.md from the declarations in src/config/variables.ts
 * (`npm run docs:config`); `--check` (`npm run docs:check`, a CI step) fails when the page differs
 * from what would be written, so the page cannot drift from the code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { VARIABLES, type Declaration } from '../src/config/variables';

const ROOT = join(__dirname, '..');
export const CONFIGURATION_PAGE = join(ROOT, 'docs', 'configuration.md');

function entry(name: string, d: Declaration): string {
  const read = d.readBy ? `; read by ${d.readBy.startsWith('@') ? `\`${d.readBy}\`` : d.readBy}` : '';
  return [`### \`${name}\``, '', `${d.roles.join(', ')} · default ${d.default}${read}`, '', d.doc, ''].join(
    '\n',
  );
}

export async function renderConfigurationPage(): Promise<string> {
  const all = Object.entries(VARIABLES) as [string, Declaration][];
  const parsed = all.filter(([, d]) => d.schema);
  const elsewhere = all.filter(([, d]) => !d.schema);
  const text = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/variables.ts by `npm run docs:config`; CI checks it is current. -->',
    '',
    'Environment variables. Roles: `server` (`npm run server`), `worker` (`npm run worker`), `dev`',
    '(`npm run dev`, both in one process) and `cli` (the operator CLI and the simulator). An empty',
    'value counts as unset. A bad value stops start-up with one line naming the variable, e.g.',
    '`configuration error: LIFECYCLE_LINGER: "10 parsecs" is not a duration (use 500ms, 90s, 10m, 24h)`.',
    'Durations take `ms`-style strings: `500ms`, `90s`, `10m`, `24h`.',
    '',
    'The lifecycle timers (`LIFECYCLE_LINGER` to `STALE_STOP_HORIZON` below) are given to each',
    "lifecycle by whoever starts it (the server's signal-with-start carries them as workflow input).",
    '',
    '## Parsed at start-up',
    '',
    ...parsed.map(([name, d]) => entry(name, d)),
    '## Read where they are used',
    '',
    'These belong to a library or a tool that gives them their meaning; they are listed here so that',
    'this page names every variable.',
    '',
    ...elsewhere.map(([name, d]) => entry(name, d)),
  ].join('\n');
  const options = (await prettier.resolveConfig(CONFIGURATION_PAGE)) ?? {};
  return prettier.format(text, { ...options, filepath: CONFIGURATION_PAGE });
}

async function main(): Promise<void> {
  const page = await renderConfigurationPage();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(CONFIGURATION_PAGE, 'utf8');
    } catch {
      // A missing page is a stale page.
    }
    if (current !== page) {
      process.stderr.write('docs/configuration.md is out of date: run `npm run docs:config` and commit it\n');
      process.exit(1);
    }
    process.stdout.write('docs/configuration.md is current\n');
    return;
  }
  writeFileSync(CONFIGURATION_PAGE, page);
  process.stdout.write(`wrote ${CONFIGURATION_PAGE}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
