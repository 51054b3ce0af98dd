/**
 * The Temporal Server version the cluster tooling builds: the `temporalio/server:<version>` tag of
 * docker-compose.yml, so the tested cluster and the compose file can never drift apart.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const SERVER_IMAGE = /^\s*image:\s*['"]?temporalio\/server:([^\s'"]+)['"]?\s*$/gm;

/** `1.29.1` from `image: temporalio/server:1.29.1`; throws unless there is exactly one such tag. */
export function serverVersionOf(composeText: string, file = 'docker-compose.yml'): string {
  const versions = [...new Set([...composeText.matchAll(SERVER_IMAGE)].map((m) => m[1] ?? ''))];
  if (versions.length !== 1) {
    throw new Error(
      `${file} must pin exactly one temporalio/server:<version> image (found ${versions.length ? versions.join(', ') : 'none'})`,
    );
  }
  const version = versions[0] ?? '';
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(
      `${file} pins temporalio/server:${version}; the cluster tooling needs an x.y.z release tag`,
    );
  }
  return version;
}

export function pinnedServerVersion(projectRoot: string): string {
  const file = path.join(projectRoot, 'docker-compose.yml');
  return serverVersionOf(readFileSync(file, 'utf8'), file);
}
