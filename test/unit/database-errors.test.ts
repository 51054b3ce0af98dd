/** Which database errors an activity gives up on at once (activities/database-errors.ts). */
import { ApplicationFailure } from '@temporalio/common';
import { isPermanentDatabaseError, withDatabaseErrors } from '../../activities/database-errors';

const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('permanent database errors', () => {
  it.each([
    ['22021', true], // invalid byte sequence (a NUL in text)
    ['22P05', true], // untranslatable character (\u0000 in jsonb)
    ['22003', true], // numeric value out of range
    ['23502', true], // not-null violation
    ['23514', true], // check violation
    ['08006', false], // connection failure
    ['57P01', false], // admin shutdown
    ['40001', false], // serialization failure
    ['53300', false], // too many connections
    ['42P01', false], // undefined table (a migration racing): retry
  ])('SQLSTATE %s → permanent %s', (code, permanent) => {
    expect(isPermanentDatabaseError(pgError(code))).toBe(permanent);
  });

  it('non-database errors stay retryable', () => {
    expect(isPermanentDatabaseError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isPermanentDatabaseError(new Error('plain'))).toBe(false);
    expect(isPermanentDatabaseError(null)).toBe(false);
  });

  it('withDatabaseErrors turns a permanent one into a non-retryable DatabaseRejected, passes the rest', async () => {
    const refused = withDatabaseErrors('registerActiveTask', async () => {
      throw pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00');
    });
    await expect(refused()).rejects.toMatchObject({
      constructor: ApplicationFailure,
      type: 'DatabaseRejected',
      nonRetryable: true,
      message: expect.stringMatching(
        /^registerActiveTask: the database refused the values \(SQLSTATE 22021\)/,
      ),
    });
    const transient = pgError('08006');
    await expect(withDatabaseErrors('x', async () => Promise.reject(transient))()).rejects.toBe(transient);
    await expect(withDatabaseErrors('x', async (a: number) => a + 1)(1)).resolves.toBe(2);
  });
});
