/**
 * What the image's processes run with: a variable the Dockerfile's runtime stage sets with `ENV`,
 * so the bench's "as shipped" children run as the containers do and the value is written once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../tools/process/service-children';

/** `ENV name=value` of the Dockerfile's last stage (the runtime), or undefined when it sets none. */
export function imageEnv(
  name: string,
  dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'),
): string | undefined {
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  const from = lines.map((l) => /^\s*FROM\s/i.test(l)).lastIndexOf(true);
  const runtime = lines.slice(Math.max(from, 0));
  let value: string | undefined;
  for (const line of runtime) {
    const env = /^\s*ENV\s+(.*)$/i.exec(line);
    if (!env) continue;
    for (const pair of env[1].trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq) === name) value = pair.slice(eq + 1).replace(/^"(.*)"$/, '$1');
    }
  }
  return value;
}
