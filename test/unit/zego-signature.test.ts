import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  CallbackSignatureError,
  computeCallbackSignature,
  verifyCallbackSignature,
  type CallbackSignatureErrorCode,
} from '../../src/zego/signature';

const SECRET = 'test-callback-secret';
const T0_MS = 1_700_000_000_000;
const opts = { maxSkewMs: 5 * 60_000, now: () => T0_MS };

function codeOf(fn: () => void): CallbackSignatureErrorCode | 'passed' {
  try {
    fn();
    return 'passed';
  } catch (err) {
    if (err instanceof CallbackSignatureError) return err.code;
    throw err;
  }
}

describe('computeCallbackSignature: the doc vectors (§4.2, §4.3)', () => {
  it("ZEGO's own vector §4.2", () => {
    expect(computeCallbackSignature('secret', '1470820198', '123412')).toBe(
      '5bd59fd62953a8059fb7eaba95720f66d19e4517',
    );
  });

  it('vector A', () => {
    expect(computeCallbackSignature(SECRET, '1700000000', '123456')).toBe(
      '0b9cc3fb538e45e1e0af3c0f8da7c89bedc66960',
    );
    // unsorted secret+timestamp+nonce is a different digest
    expect(computeCallbackSignature(SECRET, '1700000000', '123456')).not.toBe(
      'cdc21bfd055e2850ee8a81f1414163763fe75741',
    );
  });

  it('vector B: string sort, not numeric sort', () => {
    expect(computeCallbackSignature(SECRET, '1700000000', '99')).toBe(
      'a2775fd2e6c02e202b27adf97f638a97d69fb943',
    );
    expect(computeCallbackSignature(SECRET, '1700000000', '99')).not.toBe(
      'b583836355fad0da061b300741c67ff7e2318b04',
    );
  });

  it('vector C: the secret sorts first', () => {
    expect(computeCallbackSignature('0f3c5e7a9b1d2f4e6a8c0b2d4f6a8c0e', '1700000000', '123456')).toBe(
      '8a7fe8b5b54a40da429827afb758f586d0b7f95a',
    );
  });

  it('vector D: a millisecond timestamp is signed as sent', () => {
    expect(computeCallbackSignature(SECRET, '1745502313000', '7450395512627324902')).toBe(
      '2226cc51301705ccdafde7212f6363c6ec2f91c8',
    );
    expect(computeCallbackSignature(SECRET, '1745502313000', '7450395512627324902')).not.toBe(
      '486d2cff64f72d292c96cf60dd9465e7851550e1',
    );
  });

  it('the argument order does not matter (it is sorted)', () => {
    expect(computeCallbackSignature('123456', SECRET, '1700000000')).toBe(
      '0b9cc3fb538e45e1e0af3c0f8da7c89bedc66960',
    );
  });
});

describe('verifyCallbackSignature', () => {
  const good = {
    timestamp: '1700000000',
    nonce: '123456',
    signature: '0b9cc3fb538e45e1e0af3c0f8da7c89bedc66960',
  };

  it('accepts vector A at its own time', () => {
    expect(codeOf(() => verifyCallbackSignature(good, [SECRET], opts))).toBe('passed');
  });

  it('accepts uppercase hex', () => {
    const upper = { ...good, signature: good.signature.toUpperCase() };
    expect(codeOf(() => verifyCallbackSignature(upper, [SECRET], opts))).toBe('passed');
  });

  it.each([
    ['unsorted', 'cdc21bfd055e2850ee8a81f1414163763fe75741', '123456'],
    ['numeric sort (vector B)', 'b583836355fad0da061b300741c67ff7e2318b04', '99'],
  ])('rejects the %s digest', (_name, signature, nonce) => {
    expect(codeOf(() => verifyCallbackSignature({ ...good, nonce, signature }, [SECRET], opts))).toBe(
      'signature_mismatch',
    );
  });

  it('vector D: ms timestamp passes; the digest of the ms→s converted timestamp does not', () => {
    const now = () => 1_745_502_313_000;
    const input = { timestamp: '1745502313000', nonce: '7450395512627324902' };
    expect(
      codeOf(() =>
        verifyCallbackSignature(
          { ...input, signature: '2226cc51301705ccdafde7212f6363c6ec2f91c8' },
          [SECRET],
          {
            maxSkewMs: 1000,
            now,
          },
        ),
      ),
    ).toBe('passed');
    expect(
      codeOf(() =>
        verifyCallbackSignature(
          { ...input, signature: '486d2cff64f72d292c96cf60dd9465e7851550e1' },
          [SECRET],
          {
            maxSkewMs: 1000,
            now,
          },
        ),
      ),
    ).toBe('signature_mismatch');
  });

  it.each<[string, CallbackSignatureErrorCode, object]>([
    ['no timestamp', 'missing_timestamp', { timestamp: undefined }],
    ['empty timestamp', 'missing_timestamp', { timestamp: '' }],
    ['no nonce', 'missing_nonce', { nonce: undefined }],
    ['no signature', 'missing_signature', { signature: undefined }],
    ['39 hex chars', 'malformed_signature', { signature: good.signature.slice(1) }],
    ['41 hex chars', 'malformed_signature', { signature: good.signature + '0' }],
    ['non-hex char', 'malformed_signature', { signature: 'z' + good.signature.slice(1) }],
    ['base64-ish signature', 'malformed_signature', { signature: 'Pc5WB8gokVn0xfeu/ZV+iNM1dgI=' }],
  ])('%s → %s', (_name, code, change) => {
    expect(codeOf(() => verifyCallbackSignature({ ...good, ...change }, [SECRET], opts))).toBe(code);
  });

  it('rejects a correctly signed but non-numeric timestamp', () => {
    const signature = computeCallbackSignature(SECRET, 'timestamp', 'nonce');
    expect(
      codeOf(() =>
        verifyCallbackSignature({ timestamp: 'timestamp', nonce: 'nonce', signature }, [SECRET], opts),
      ),
    ).toBe('malformed_timestamp');
  });

  describe('skew window, both directions, seconds and milliseconds', () => {
    const skew = 5 * 60_000;
    const signedAt = (timestamp: string) => ({
      timestamp,
      nonce: 'n-1',
      signature: computeCallbackSignature(SECRET, timestamp, 'n-1'),
    });
    const at = (nowMs: number, timestamp: string) =>
      codeOf(() =>
        verifyCallbackSignature(signedAt(timestamp), [SECRET], { maxSkewMs: skew, now: () => nowMs }),
      );

    it.each([
      ['seconds', '1700000000', 1_700_000_000_000],
      ['milliseconds', '1700000000000', 1_700_000_000_000],
    ])('%s: edges of the window', (_unit, ts, tsMs) => {
      expect(at(tsMs, ts)).toBe('passed');
      expect(at(tsMs + skew, ts)).toBe('passed');
      expect(at(tsMs - skew, ts)).toBe('passed');
      expect(at(tsMs + skew + 1000, ts)).toBe('timestamp_too_old');
      expect(at(tsMs - skew - 1000, ts)).toBe('timestamp_in_future');
    });

    it('a millisecond timestamp is not mistaken for seconds (that would be far in the future)', () => {
      expect(at(1_700_000_000_123, '1700000000123')).toBe('passed');
    });

    it('says how far off the timestamp is and what the window is', () => {
      expect(() =>
        verifyCallbackSignature(signedAt('1700000000'), [SECRET], {
          maxSkewMs: skew,
          now: () => T0_MS + 600_000,
        }),
      ).toThrow('Timestamp 1700000000 is 600s in the past, beyond the allowed skew of 300s');
    });

    it('a NaN clock or skew rejects instead of accepting', () => {
      expect(at(NaN, '1700000000')).toBe('timestamp_too_old');
      expect(
        codeOf(() =>
          verifyCallbackSignature(signedAt('1700000000'), [SECRET], { maxSkewMs: NaN, now: () => T0_MS }),
        ),
      ).toBe('timestamp_too_old');
    });
  });

  describe('several secrets (rotation)', () => {
    it('accepts a signature made with any configured secret', () => {
      expect(codeOf(() => verifyCallbackSignature(good, ['new-secret', SECRET], opts))).toBe('passed');
      expect(codeOf(() => verifyCallbackSignature(good, [SECRET, 'new-secret'], opts))).toBe('passed');
    });

    it('rejects when no secret matches, and says how many were tried', () => {
      expect(() => verifyCallbackSignature(good, ['a', 'b'], opts)).toThrow('tried 2 secrets');
    });

    it('ignores empty secrets: they would let anyone sign', () => {
      const forged = { ...good, signature: computeCallbackSignature('', good.timestamp, good.nonce) };
      expect(codeOf(() => verifyCallbackSignature(forged, ['', SECRET], opts))).toBe('signature_mismatch');
      expect(() => verifyCallbackSignature(forged, [''], opts)).toThrow('no callback secret is configured');
    });
  });

  it('never echoes the secret', () => {
    const secret = 'super-secret-value-123';
    for (const input of [good, { ...good, signature: 'x' }, { ...good, timestamp: undefined }]) {
      try {
        verifyCallbackSignature(input, [secret], opts);
      } catch (err) {
        expect((err as Error).message).not.toContain(secret);
      }
    }
  });

  it('is an Error with a name and a code', () => {
    try {
      verifyCallbackSignature({}, [SECRET], opts);
      throw new Error('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(Error);
      expect(err).toBeInstanceOf(CallbackSignatureError);
      expect((err as CallbackSignatureError).name).toBe('CallbackSignatureError');
      expect((err as CallbackSignatureError).code).toBe('missing_timestamp');
    }
  });
});

describe('computeCallbackSignature on any text', () => {
  /** The definition: the UTF-8 bytes, sorted byte-wise, concatenated, SHA-1. */
  const reference = (...parts: string[]) =>
    createHash('sha1')
      .update(Buffer.concat(parts.map((s) => Buffer.from(s, 'utf8')).sort(Buffer.compare)))
      .digest('hex');

  it('matches the byte-wise definition, also above U+D800 (where UTF-16 order is not byte order)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.string({
        unit: fc.constantFrom('a', '1', '\uffff', '\ue000', '\ud83d\ude00', '\ud800', 'é'),
        maxLength: 6,
      }),
    );
    fc.assert(
      fc.property(text, text, text, (secret, timestamp, nonce) => {
        expect(computeCallbackSignature(secret, timestamp, nonce)).toBe(reference(secret, timestamp, nonce));
      }),
      { numRuns: 1000 },
    );
    // U+FFFF sorts after U+1F600 in UTF-16 but before it in UTF-8.
    expect(computeCallbackSignature('\uffff', '\ud83d\ude00', '1')).toBe(
      reference('\uffff', '\ud83d\ude00', '1'),
    );
  });
});
