/**
 * The embedded database on its own thread (src/store/pglite-thread-sql.ts): statements, scripts,
 * transactions that commit, roll back and hold the one connection, Postgres errors with their
 * fields, and what callers get once the thread is closed or gone.
 */
import { PGliteThreadSql } from '../../src/store';

jest.setTimeout(60_000);

describe('PGliteThreadSql', () => {
  let sql: PGliteThreadSql;

  beforeAll(async () => {
    sql = await PGliteThreadSql.open(undefined);
    await sql.exec('CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (id int)');
  });
  afterAll(async () => {
    await sql?.close();
  });

  it('runs statements with parameters and returns their rows', async () => {
    await sql.query('INSERT INTO t (id, v) VALUES ($1, $2)', [1, 'one']);
    expect((await sql.query<{ v: string }>('SELECT v FROM t WHERE id = $1', [1])).rows).toEqual([
      { v: 'one' },
    ]);
  });

  it('keeps the Postgres fields of an error', async () => {
    await expect(sql.query('INSERT INTO t (id, v) VALUES ($1, $2)', [1, 'again'])).rejects.toMatchObject({
      code: '23505',
      constraint: 't_pkey',
      message: expect.stringContaining('duplicate key'),
    });
  });

  it('commits a transaction, and rolls one back when its function throws', async () => {
    const result = await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO u (id) VALUES ($1)', [10]);
      await tx.exec('INSERT INTO u (id) VALUES (11)');
      return 'done';
    });
    expect(result).toBe('done');
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO u (id) VALUES ($1)', [12]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // A statement that fails inside a transaction rolls it back too.
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO u (id) VALUES ($1)', [13]);
        await tx.query('SELECT no_such_column FROM u');
      }),
    ).rejects.toMatchObject({ code: '42703' });
    const { rows } = await sql.query<{ id: number }>('SELECT id FROM u ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([10, 11]);
  });

  it('a statement sent while a transaction is open waits until it ends (one connection)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const tx = sql.transaction(async (t) => {
      await t.query('INSERT INTO u (id) VALUES ($1)', [20]);
      await gate;
      await t.query('INSERT INTO u (id) VALUES ($1)', [21]);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const outside = sql.query<{ n: string }>('SELECT count(*)::text AS n FROM u WHERE id >= 20');
    let answered = false;
    void outside.then(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(false);
    release();
    await tx;
    expect((await outside).rows).toEqual([{ n: '2' }]);
  });

  it('fails every statement once closed, and closing twice is harmless', async () => {
    const other = await PGliteThreadSql.open(undefined);
    let closed = 0;
    await other.close();
    await other.close();
    await expect(other.query('SELECT 1')).rejects.toThrow('embedded database closed');
    const counted = await PGliteThreadSql.open(undefined, () => closed++);
    await counted.close();
    expect(closed).toBe(1);
  });
});
