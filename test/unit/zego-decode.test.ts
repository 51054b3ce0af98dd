import {
  decodeCallbackBody,
  JsonNumber,
  MAX_NESTING_DEPTH,
  type DecodeResult,
  type DecodedObject,
} from '../../src/zego/decode';

function ok(result: DecodeResult): DecodedObject {
  if (!result.ok) throw new Error(`expected ok, got ${result.error}: ${result.details.join('; ')}`);
  return result.value;
}

function decode(body: string | Buffer, contentType?: string) {
  return decodeCallbackBody(typeof body === 'string' ? Buffer.from(body, 'utf8') : body, contentType);
}

const START_JSON = JSON.stringify({
  Event: 'transcode_start',
  Appid: '111111',
  Timestamp: '1700000000',
  Nonce: '123456',
  Signature: '0b9cc3fb538e45e1e0af3c0f8da7c89bedc66960',
  TaskId: '2222',
  UserId: 'a+b c',
  Sequence: 0,
  Details: { Input: { StreamId: 's1' }, Outputs: [{ StreamId: 'o1', Width: 1280, Height: 720 }] },
});

describe('decodeCallbackBody', () => {
  describe('JSON', () => {
    it('lowercases keys at every level and keeps numbers as their exact text', () => {
      const result = decode(START_JSON, 'application/json');
      expect(result).toMatchObject({ ok: true, format: 'json' });
      const v = ok(result);
      expect(v.event).toBe('transcode_start');
      expect(v.appid).toBe('111111');
      expect(v.userid).toBe('a+b c');
      expect(v.sequence).toEqual(new JsonNumber('0'));
      const details = v.details as DecodedObject;
      const outputs = details.outputs as DecodedObject[];
      expect((details.input as DecodedObject).streamid).toBe('s1');
      expect(outputs[0].width).toEqual(new JsonNumber('1280'));
    });

    it('keeps all 19 digits of a nonce sent as a JSON number (§9 #4)', () => {
      const v = ok(decode('{"Nonce": 7257784982359218206, "Timestamp": 1745502313000, "F": 1.50}'));
      expect(v.nonce).toBeInstanceOf(JsonNumber);
      expect((v.nonce as JsonNumber).text).toBe('7257784982359218206');
      expect((v.timestamp as JsonNumber).text).toBe('1745502313000');
      expect((v.f as JsonNumber).text).toBe('1.50');
    });

    it('does not care about the Content-Type', () => {
      for (const ct of [
        undefined,
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=utf-8',
      ]) {
        expect(decode(START_JSON, ct)).toMatchObject({ ok: true, format: 'json' });
      }
    });

    it('accepts a UTF-8 BOM and surrounding whitespace', () => {
      expect(decode('\ufeff  {"a":"b"}\n')).toMatchObject({ ok: true, format: 'json' });
    });

    it('gives null-prototype objects, so __proto__ is just a key', () => {
      const v = ok(decode('{"__proto__": {"polluted": "yes"}, "constructor": "x", "Event": "e"}'));
      expect(Object.getPrototypeOf(v)).toBeNull();
      expect(v.event).toBe('e');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.keys(v)).toEqual(['__proto__', 'constructor', 'event']);
    });

    it('accepts the same field in two casings with the same value, refuses different values', () => {
      expect(ok(decode('{"Appid":"1","appid":"1"}')).appid).toBe('1');
      const conflict = decode('{"Appid":"1","appid":"2"}');
      expect(conflict).toEqual({
        ok: false,
        error:
          'Callback body has conflicting values for "Appid" and "appid" (ZEGO keys are case-insensitive)',
        details: [],
      });
      expect(decode('{"Details":{"Input":{"StreamId":"a","streamid":"b"}}}')).toMatchObject({
        ok: false,
        error: expect.stringContaining('in Details.Input'),
      });
    });

    it('rejects JSON that is not an object', () => {
      for (const [body, what] of [
        ['[1,2]', 'an array'],
        ['"x"', 'a string'],
        ['42', 'a number'],
        ['null', 'null'],
        ['true', 'a boolean'],
      ]) {
        expect(decode(body)).toEqual({
          ok: false,
          error: `Callback body is JSON but not an object (got ${what})`,
          details: [],
        });
      }
    });

    it('refuses absurd nesting without overflowing the stack', () => {
      const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
      const result = decode(deep);
      expect(result.ok).toBe(false);
      const ok32 = '{"a":'.repeat(MAX_NESTING_DEPTH) + '1' + '}'.repeat(MAX_NESTING_DEPTH);
      expect(decode(ok32).ok).toBe(true);
      expect(decode('['.repeat(50_000)).ok).toBe(false);
    });
  });

  describe('URL-encoded JSON (whole body percent-encoded)', () => {
    it('percent-decodes, keeping + as + (not form decoding)', () => {
      const result = decode(
        encodeURIComponent(START_JSON).replace(/%20/g, '+'),
        'application/x-www-form-urlencoded',
      );
      // A sender that writes spaces as `+`: percent-decoding keeps them as `+` (the doc's rule, §9 #5),
      // so "a+b c" arrives as "a+b+c", while the JSON structure survives either way.
      expect(result).toMatchObject({ ok: true, format: 'urlencoded-json' });
      expect(ok(result).userid).toBe('a+b+c');
    });

    it('keeps a literal + that the sender did not encode', () => {
      const body = '%7B%22UserId%22%3A%22a+b%22%2C%22Nonce%22%3A7257784982359218206%7D';
      const v = ok(decode(body));
      expect(v.userid).toBe('a+b');
      expect((v.nonce as JsonNumber).text).toBe('7257784982359218206');
    });

    it('works without any Content-Type', () => {
      expect(decode(encodeURIComponent(START_JSON))).toMatchObject({ ok: true, format: 'urlencoded-json' });
    });
  });

  describe('form fields', () => {
    it('parses form fields in any key casing', () => {
      for (const [appKey, sigKey] of [
        ['Appid', 'Signature'],
        ['appid', 'signature'],
        ['AppId', 'SIGNATURE'],
      ]) {
        const body = `Event=transcode_stop&${appKey}=111111&Timestamp=1700000000&Nonce=123456&${sigKey}=abc&StopReason=1`;
        const result = decode(body, 'application/x-www-form-urlencoded');
        expect(result).toMatchObject({ ok: true, format: 'form' });
        const v = ok(result);
        expect(v.appid).toBe('111111');
        expect(v.signature).toBe('abc');
        expect(v.stopreason).toBe('1');
      }
    });

    it('form-decodes values (+ is a space in a form)', () => {
      expect(ok(decode('UserId=a+b%2Bc', 'application/x-www-form-urlencoded')).userid).toBe('a b+c');
    });

    it('parses a field holding a JSON object (Details), losslessly', () => {
      const details = JSON.stringify({ Input: { StreamId: 's' }, Outputs: [{ Width: 1280 }] });
      const body = new URLSearchParams({ Event: 'transcode_start', Details: details }).toString();
      const v = ok(decode(body, 'application/x-www-form-urlencoded'));
      const outputs = (v.details as DecodedObject).outputs as DecodedObject[];
      expect(outputs[0].width).toEqual(new JsonNumber('1280'));
    });

    it('keeps a value that only looks like JSON as a string', () => {
      expect(ok(decode('Status=%7Bnot-json', 'application/x-www-form-urlencoded')).status).toBe('{not-json');
    });

    it('unwraps a form whose single field is a whole JSON callback', () => {
      const body = new URLSearchParams({ data: START_JSON }).toString();
      const v = ok(decode(body, 'application/x-www-form-urlencoded'));
      expect(v.event).toBe('transcode_start');
      expect(v.taskid).toBe('2222');
    });

    it('does not unwrap a single field that is not a whole callback', () => {
      const body = new URLSearchParams({ Details: '{"Input":{}}' }).toString();
      const v = ok(decode(body, 'application/x-www-form-urlencoded'));
      expect(Object.keys(v)).toEqual(['details']);
    });

    it('recognises k=v&k=v without a form Content-Type', () => {
      expect(decode('event=transcode_stop&appid=1')).toMatchObject({ ok: true, format: 'form' });
      expect(decode('event=transcode_stop&appid=1', 'text/plain')).toMatchObject({
        ok: true,
        format: 'form',
      });
    });

    it('refuses the same field twice with different values', () => {
      expect(decode('nonce=1&Nonce=2', 'application/x-www-form-urlencoded')).toMatchObject({
        ok: false,
        error: expect.stringContaining('conflicting values for "nonce" and "Nonce"'),
      });
    });

    it('keeps __proto__ as a plain key', () => {
      const v = ok(decode('__proto__=x&event=e', 'application/x-www-form-urlencoded'));
      expect(Object.getPrototypeOf(v)).toBeNull();
      expect(v.__proto__).toBe('x');
    });
  });

  describe('unreadable bodies', () => {
    it('empty', () => {
      expect(decode('')).toEqual({ ok: false, error: 'Callback body is empty', details: [] });
      expect(decode('  \n')).toMatchObject({ ok: false, error: 'Callback body is empty' });
    });

    it('not UTF-8', () => {
      expect(decode(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).toEqual({
        ok: false,
        error: 'Callback body is not valid UTF-8',
        details: [],
      });
    });

    it('junk: says what each format attempt found', () => {
      const result = decode('hello world', 'text/plain');
      expect(result).toMatchObject({
        ok: false,
        error: 'Callback body is not a JSON object, URL-encoded JSON or form fields',
      });
      if (result.ok) return;
      expect(result.details).toHaveLength(3);
      expect(result.details[0]).toMatch(/^as JSON: /);
      expect(result.details[1]).toBe('as URL-encoded JSON: no percent-encoding in the body');
      expect(result.details[2]).toBe(
        'as form fields: Content-Type is "text/plain" and the body does not look like key=value pairs',
      );
    });

    it('explains attempts that were skipped as hopeless exactly as if they had run', () => {
      const details = (body: string) => {
        const result = decode(body);
        return result.ok ? [] : result.details.slice(0, 2);
      };
      expect(details('%20%20x%7B')).toEqual([
        "as JSON: JSON value expected but got '%' at position 0",
        "as URL-encoded JSON: JSON value expected but got 'x' at position 2",
      ]);
      expect(details('%41%42 %')).toEqual([
        "as JSON: JSON value expected but got '%' at position 0",
        'as URL-encoded JSON: malformed percent-encoding',
      ]);
      // The nesting check runs first, as it did when every attempt ran.
      expect(details(`x${'['.repeat(40)}`)[0]).toBe('as JSON: JSON nested deeper than 32 levels');
      expect(details('%5B'.repeat(40))[1]).toBe('as URL-encoded JSON: JSON nested deeper than 32 levels');
    });

    it('broken JSON is not read as a form even with a form Content-Type', () => {
      const result = decode('{"Event": "transcode_start",', 'application/x-www-form-urlencoded');
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.details[2]).toBe('as form fields: the body starts like JSON');
    });

    it('malformed percent-encoding', () => {
      const result = decode('%E0%A4%A', 'text/plain');
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.details[1]).toBe('as URL-encoded JSON: malformed percent-encoding');
    });

    it('a form Content-Type with no key=value pair', () => {
      const result = decode('justtext', 'application/x-www-form-urlencoded');
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.details[2]).toBe('as form fields: no key=value pair in the body');
    });

    it('a non-buffer body', () => {
      expect(decodeCallbackBody(undefined as unknown as Buffer, undefined)).toMatchObject({
        ok: false,
        error: 'Callback body is missing',
      });
    });
  });
});
