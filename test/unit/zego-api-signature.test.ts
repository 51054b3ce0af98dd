import { computeApiSignature, newSignatureNonce } from '../../src/zego/api-signature';

describe('computeApiSignature: the doc vectors (§5)', () => {
  it("ZEGO's own documented vector", () => {
    expect(
      computeApiSignature('12345', '4fd24687296dd9f3', '9193cc662a4c0ec135ec71fb57194b38', 1615186943),
    ).toBe('43e5cfcca828314675f91b001390566a');
  });

  it('self-computed example 1', () => {
    expect(
      computeApiSignature('1234567890', 'a1b2c3d4e5f60718', '0123456789abcdef0123456789abcdef', 1700000000),
    ).toBe('c90a56c08221a571fbf3007d1d7300d6');
  });

  it('self-computed example 2', () => {
    expect(computeApiSignature('1234567890', '4fd24687296dd9f3', 'test-server-secret', 1700000000)).toBe(
      '900a419961ced2f12019a911eb87ab68',
    );
  });

  it('a string timestamp signs the same as the number', () => {
    expect(
      computeApiSignature('12345', '4fd24687296dd9f3', '9193cc662a4c0ec135ec71fb57194b38', '1615186943'),
    ).toBe('43e5cfcca828314675f91b001390566a');
  });

  it('the order is fixed (not sorted like the callback signature)', () => {
    // Swapping nonce and secret changes the digest.
    expect(
      computeApiSignature('12345', '9193cc662a4c0ec135ec71fb57194b38', '4fd24687296dd9f3', 1615186943),
    ).not.toBe('43e5cfcca828314675f91b001390566a');
  });

  it('is 32 lowercase hex chars', () => {
    expect(computeApiSignature('1', 'n', 's', 0)).toMatch(/^[0-9a-f]{32}$/);
  });

  it.each([1700000000.5, 1.7e21, NaN, Infinity])('rejects a non-integer number timestamp (%p)', (ts) => {
    expect(() => computeApiSignature('1', 'n', 'secret-value', ts)).toThrow('whole Unix seconds');
  });
});

describe('newSignatureNonce', () => {
  it('is 16 lowercase hex chars (8 random bytes)', () => {
    expect(newSignatureNonce()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is fresh every call', () => {
    const nonces = new Set(Array.from({ length: 1000 }, () => newSignatureNonce()));
    expect(nonces.size).toBe(1000);
  });
});
