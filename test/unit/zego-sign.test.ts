import { isLosslessNumber, LosslessNumber } from 'lossless-json';
import { randomNonce, signatureFields, signCallbackBody } from '../../src/zego/sign';
import { verifyCallbackSignature } from '../../src/zego/signature';

const SECRET = 'test-callback-secret';

describe('the callback signer: the doc vectors (shared doc §4.2, §4.3)', () => {
  it.each([
    ['§4.2', 'secret', '1470820198', '123412', '5bd59fd62953a8059fb7eaba95720f66d19e4517'],
    ['A', SECRET, '1700000000', '123456', '0b9cc3fb538e45e1e0af3c0f8da7c89bedc66960'],
    ['B', SECRET, '1700000000', '99', 'a2775fd2e6c02e202b27adf97f638a97d69fb943'],
    [
      'C',
      '0f3c5e7a9b1d2f4e6a8c0b2d4f6a8c0e',
      '1700000000',
      '123456',
      '8a7fe8b5b54a40da429827afb758f586d0b7f95a',
    ],
    ['D', SECRET, '1745502313000', '7450395512627324902', '2226cc51301705ccdafde7212f6363c6ec2f91c8'],
  ])('vector %s', (_name, secret, timestamp, nonce, signature) => {
    expect(signatureFields({ secret, timestamp, nonce })).toEqual({
      Timestamp: timestamp,
      Nonce: nonce,
      Signature: signature,
    });
  });

  it('signs a JSON number as its decimal text and sends it as given (vector D, bigint nonce)', () => {
    const body = signCallbackBody(
      { Event: 'transcode_stop' },
      { secret: SECRET, timestamp: 1745502313000, nonce: 7450395512627324902n },
    );
    expect(body).toEqual({
      Event: 'transcode_stop',
      Timestamp: 1745502313000,
      Nonce: 7450395512627324902n,
      Signature: '2226cc51301705ccdafde7212f6363c6ec2f91c8',
    });
  });
});

describe('signCallbackBody', () => {
  it('defaults: now in seconds and a 19-digit nonce, which the verifier accepts', () => {
    const now = 1_700_000_000_500;
    const body = signCallbackBody({ Event: 'transcode_start' }, { secret: SECRET, now: () => now });
    expect(body.Timestamp).toBe('1700000000');
    expect(body.Nonce).toMatch(/^[1-9]\d{18}$/);
    expect(() =>
      verifyCallbackSignature(
        { timestamp: String(body.Timestamp), nonce: String(body.Nonce), signature: String(body.Signature) },
        [SECRET],
        { maxSkewMs: 1000, now: () => now },
      ),
    ).not.toThrow();
  });

  it("replaces the fields under the body's own casing, a generated value keeping a number a number", () => {
    const body = signCallbackBody(
      { event: 'mix_start', timestamp: new LosslessNumber('1'), nonce: 'old', signature: 'x', appid: 1 },
      { secret: SECRET, now: () => 1_700_000_000_000 },
    );
    expect(Object.keys(body)).toEqual(['event', 'timestamp', 'nonce', 'signature', 'appid']);
    expect(isLosslessNumber(body.timestamp)).toBe(true);
    expect(String(body.timestamp)).toBe('1700000000');
    expect(typeof body.nonce).toBe('string');
    expect(body.signature).toBe(
      signatureFields({ secret: SECRET, timestamp: '1700000000', nonce: String(body.nonce) }).Signature,
    );
  });

  it('a given signature is sent instead of the computed one', () => {
    expect(
      signCallbackBody({}, { secret: SECRET, timestamp: '1', nonce: '2', signature: 'f'.repeat(40) }),
    ).toEqual({
      Timestamp: '1',
      Nonce: '2',
      Signature: 'f'.repeat(40),
    });
  });

  it('nonces are fresh', () => {
    expect(new Set(Array.from({ length: 50 }, randomNonce)).size).toBe(50);
  });
});
