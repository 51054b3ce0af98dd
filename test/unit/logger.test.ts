/** Secrets never reach a log line: top level, nested, in bound fields and in request headers. */
import { Writable } from 'node:stream';
import { createLogger, redactNested } from '../../src/logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

describe('log redaction', () => {
  it('hides sensitive keys at the top level, one and two levels down, in bindings and headers', () => {
    const { logger, lines } = capture();
    logger.child({ secret: 's-bound', config: { databaseUrl: 'postgres://u:pw@h/db' } }).info(
      {
        Signature: 'sig-top',
        callback: { Signature: 'sig-1', Nonce: 'kept' },
        deep: { zego: { serverSecret: 'srv-2' }, other: 1 },
        req: { headers: { authorization: 'Bearer tok', accept: 'json' } },
        headers: { cookie: 'c=1', host: 'x' },
      },
      'line',
    );
    const text = JSON.stringify(lines);
    for (const secret of ['s-bound', 'pw@h', 'sig-top', 'sig-1', 'srv-2', 'Bearer tok', 'c=1'])
      expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      secret: '[redacted]',
      config: { databaseUrl: '[redacted]' },
      Signature: '[redacted]',
      callback: { Signature: '[redacted]', Nonce: 'kept' },
      deep: { zego: { serverSecret: '[redacted]' }, other: 1 },
      req: { headers: { authorization: '[redacted]', accept: 'json' } },
      headers: { cookie: '[redacted]', host: 'x' },
      msg: 'line',
    });
  });

  it('leaves a line without secrets untouched (the same object, nothing copied)', () => {
    const clean = {
      appId: '111111',
      nested: { taskId: 't', deeper: { a: 1 } },
      list: [{ secret: 'in-array' }],
    };
    expect(redactNested(clean)).toBe(clean);
  });

  it('never changes the caller’s object', () => {
    const given = { nested: { password: 'pw' } };
    const out = redactNested(given) as { nested: { password: string } };
    expect(out.nested.password).toBe('[redacted]');
    expect(given.nested.password).toBe('pw');
  });
});
