/**
 * The two database backends the store runs on, for tests that run the same checks against both:
 * PostgreSQL (a fresh database per setup) and the embedded PGlite (a temp directory).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../../src/store';
import { createTestDatabase, type TestDatabase } from '../../tools/postgres/test-database';

export interface Backend {
  name: 'postgres' | 'embedded';
  /** Storage shared by every `open()` of the backend. */
  setup(): Promise<void>;
  open(): Promise<Database>;
  teardown(): Promise<void>;
  /** Several handles at once (several pools); PGlite allows one. */
  maxHandles: number;
}

export function postgresBackend(): Backend {
  let testDb: TestDatabase | undefined;
  return {
    name: 'postgres',
    maxHandles: 4,
    async setup() {
      testDb = await createTestDatabase();
    },
    open: () => openDatabase({ databaseUrl: testDb!.url, dataDir: '/nonexistent-unused' }),
    async teardown() {
      await testDb?.drop();
    },
  };
}

export function embeddedBackend(): Backend {
  let dir: string | undefined;
  return {
    name: 'embedded',
    maxHandles: 1,
    async setup() {
      dir = await mkdtemp(path.join(tmpdir(), 'store-pglite-'));
    },
    open: () => openDatabase({ dataDir: dir! }),
    async teardown() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
