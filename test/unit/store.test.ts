/** Pure parts of src/store: the in-memory nonce store's bounds, URL redaction, the migration list. */
import { MemoryNonceStore } from '../../src/store/nonces';
import { MIGRATIONS } from '../../src/store/migrations';
import { localError, redactDatabaseUrl } from '../../src/store/sql';

describe('MemoryNonceStore', () => {
  test('is bounded: when full, expired entries go first, then the oldest', async () => {
    let now = 1_000;
    const store = new MemoryNonceStore({ now: () => now, maxEntries: 3, sweepIntervalMs: 0 });
    try {
      expect(await store.bind('a', 'fp', 1_500)).toBe('new');
      expect(await store.bind('b', 'fp', 5_000)).toBe('new');
      expect(await store.bind('c', 'fp', 5_000)).toBe('new');
      now = 2_000; // 'a' expired
      expect(await store.bind('d', 'fp', 5_000)).toBe('new');
      expect(store.size).toBe(3);
      expect(await store.bind('b', 'other', 5_000)).toBe('conflict'); // 'b' survived, 'a' went
      expect(await store.bind('e', 'fp', 5_000)).toBe('new'); // evicts the oldest live one: 'b'
      expect(store.size).toBe(3);
      expect(await store.bind('b', 'other', 5_000)).toBe('new');
      expect(await store.bind('d', 'fp', 5_000)).toBe('same');
    } finally {
      await store.close();
    }
  });

  test('a rebound expired key moves to the young end', async () => {
    let now = 0;
    const store = new MemoryNonceStore({ now: () => now, maxEntries: 2, sweepIntervalMs: 0 });
    try {
      await store.bind('x', 'fp', 10);
      await store.bind('y', 'fp', 100);
      now = 10;
      expect(await store.bind('x', 'fp2', 100)).toBe('new'); // x expired → rebound, now youngest
      expect(await store.bind('z', 'fp', 100)).toBe('new'); // evicts y (oldest), not x
      expect(await store.bind('x', 'fp2', 100)).toBe('same');
      expect(await store.bind('y', 'fp', 100)).toBe('new');
    } finally {
      await store.close();
    }
  });

  test('refuses bad arguments and use after close', async () => {
    const store = new MemoryNonceStore({ sweepIntervalMs: 0 });
    await expect(store.bind('', 'fp', Date.now())).rejects.toThrow(TypeError);
    await expect(store.bind('k', 'fp', Number.NaN)).rejects.toThrow(/expiresAtMs/);
    await expect(store.bind('k', 'fp', Number.POSITIVE_INFINITY)).rejects.toThrow(/expiresAtMs/);
    await store.close();
    await store.close();
    await expect(store.bind('k', 'fp', Date.now() + 1000)).rejects.toThrow(/closed/);
  });

  test('the sweep timer runs and close() stops it', async () => {
    jest.useFakeTimers();
    try {
      let now = 0;
      const store = new MemoryNonceStore({ now: () => now, sweepIntervalMs: 1_000 });
      await store.bind('k', 'fp', 500);
      now = 600;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(store.size).toBe(0);
      await store.close();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('redactDatabaseUrl', () => {
  test.each([
    ['postgres://user:secret@db.example:5432/app', 'postgres://user:***@db.example:5432/app'],
    ['postgresql://user@db/app?sslmode=require', 'postgresql://user@db/app?sslmode=require'],
    ['postgres://db/app?user=u&password=secret', 'postgres://db/app?user=u&password=***'],
    ['postgres://us%40er:p%40ss@db/app', 'postgres://us%40er:***@db/app'],
    ['host=db user=u password=secret dbname=app', 'host=db user=u password=*** dbname=app'],
  ])('%s', (url, expected) => {
    expect(redactDatabaseUrl(url)).toBe(expected);
    expect(redactDatabaseUrl(url)).not.toMatch(/secret|p%40ss/);
  });
});

describe('localError', () => {
  test('re-creates a foreign error with its Postgres fields; keeps own errors', () => {
    const own = new Error('x');
    expect(localError(own)).toBe(own);
    const foreign = { name: 'error', message: 'duplicate key', code: '23505', constraint: 'pk', other: 1 };
    const copy = localError(foreign) as Error & Record<string, unknown>;
    expect(copy).toBeInstanceOf(Error);
    expect(copy).toMatchObject({ message: 'duplicate key', code: '23505', constraint: 'pk' });
    expect(copy.other).toBeUndefined();
    expect(copy.cause).toBe(foreign);
  });
});

describe('MIGRATIONS', () => {
  test('are numbered 1..n without gaps and uniquely named', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(
      Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1),
    );
    expect(new Set(MIGRATIONS.map((m) => m.name)).size).toBe(MIGRATIONS.length);
  });
});
