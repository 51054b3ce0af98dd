/**
 * A lifecycle's identity (contract v2, "Identifiers"): (Appid, TaskId) → workflow ID is injective,
 * because the Appid is ZEGO's numeric AppID (no colon), and it stays what it was for such Appids.
 * And the door's limits: past them, or holding what PostgreSQL or Temporal cannot carry, a
 * callback is a 400 naming the field — never something acknowledged that can never be stored.
 */
import fc from 'fast-check';
import { lifecycleWorkflowId } from '../../workflows/definitions';
import { parseTranscodeCallback } from '../../src/zego/schemas';
import { decodeCallbackBody, isDecodedObject } from '../../src/zego/decode';
import {
  APP_ID_MAX_DIGITS,
  charLength,
  TASK_ID_MAX_CHARS,
  unstorableText,
  VISIBILITY_KEYWORD_MAX_CHARS,
} from '../../src/zego/limits';
import { appIdProblem } from '../../src/zego/limits';

/** The inverse of lifecycleWorkflowId for numeric Appids: split after the prefix at the first colon. */
function parseWorkflowId(id: string): { appId: string; taskId: string } | null {
  const m = /^zego-transcode:(\d+):([\s\S]*)$/.exec(id);
  return m ? { appId: m[1], taskId: m[2] } : null;
}

const appIds = fc.stringMatching(new RegExp(`^\\d{1,${APP_ID_MAX_DIGITS}}$`));
const taskIds = fc.string({ unit: 'binary', maxLength: 40 });

describe('lifecycle identity', () => {
  it('is injective over every numeric Appid and any TaskId (an inverse exists)', () => {
    fc.assert(
      fc.property(appIds, taskIds, (appId, taskId) => {
        expect(parseWorkflowId(lifecycleWorkflowId(appId, taskId))).toEqual({ appId, taskId });
      }),
      { numRuns: 2000 },
    );
  });

  it('two different pairs never share a workflow ID', () => {
    fc.assert(
      fc.property(appIds, taskIds, appIds, taskIds, (a1, t1, a2, t2) => {
        fc.pre(a1 !== a2 || t1 !== t2);
        expect(lifecycleWorkflowId(a1, t1)).not.toBe(lifecycleWorkflowId(a2, t2));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the workflow IDs of numeric Appids as they were (running lifecycles keep working)', () => {
    expect(lifecycleWorkflowId('515151', '9838:z')).toBe('zego-transcode:515151:9838:z');
  });

  it('refuses the Appid that made two pairs collide before', () => {
    expect(appIdProblem('515151:9838')).toMatch(/numeric AppID/);
    expect(appIdProblem('515151')).toBeUndefined();
    expect(appIdProblem('12345678901')).toMatch(/1–10 digits/);
    expect(appIdProblem('')).toMatch(/numeric/);
  });

  it('a TaskId at the limit makes a workflow ID that Temporal SQL visibility can store', () => {
    const longest = lifecycleWorkflowId('4294967295', 'x'.repeat(TASK_ID_MAX_CHARS));
    expect(charLength(longest)).toBe(VISIBILITY_KEYWORD_MAX_CHARS);
  });
});

describe('text PostgreSQL and Temporal can carry', () => {
  it.each([
    ['NUL', 'a\u0000b', /NUL/],
    ['a lone high surrogate', 'a\ud800b', /unpaired surrogate/],
    ['a lone low surrogate', '\udc00', /unpaired surrogate/],
    ['a high surrogate at the end', 'abc\ud83d', /unpaired surrogate/],
  ])('refuses %s', (_name, text, message) => {
    expect(unstorableText(text)).toMatch(message);
  });

  it('accepts any well-formed text, astral characters included', () => {
    expect(unstorableText('任务-😀-\u0001-\t')).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        fc.pre(!text.includes('\u0000'));
        expect(unstorableText(text)).toBeUndefined();
      }),
    );
  });

  it('counts characters as code points', () => {
    expect(charLength('😀😀')).toBe(2);
    expect(charLength('ab')).toBe(2);
  });
});

describe('the door: the schema names the field and the reason', () => {
  const base = {
    event: 'transcode_start',
    appid: '111111',
    timestamp: '1700000000',
    nonce: '123',
    signature: 'x'.repeat(40),
    taskid: 't',
    status: 'TranscodeStarted',
  };
  const errorsOf = (over: Record<string, unknown>) => {
    const decoded = decodeCallbackBody(Buffer.from(JSON.stringify({ ...base, ...over })), 'application/json');
    if (!decoded.ok || !isDecodedObject(decoded.value)) throw new Error('not decoded');
    const parsed = parseTranscodeCallback('transcode_start', decoded.value);
    return parsed.ok ? [] : parsed.errors;
  };

  it.each([
    [{ taskid: 'x'.repeat(5000) }, 'TaskId', /5000 characters long; at most 229/],
    [{ taskid: 'x'.repeat(TASK_ID_MAX_CHARS + 1) }, 'TaskId', /at most 229/],
    [{ taskid: 'a\u0000b' }, 'TaskId', /NUL/],
    [{ taskid: 'a\ud800' }, 'TaskId', /unpaired surrogate/],
    [{ appid: '515151:9838' }, 'Appid', /numeric AppID/],
    [{ userid: 'u'.repeat(256) }, 'UserId', /at most 255/],
    [{ nonce: '9'.repeat(129) }, 'Nonce', /at most 128/],
    [{ status: 'Transcode\u0000Started' }, 'Status', /NUL/],
    [{ details: { input: { streamurl: 'rtmp://x/\u0000' } } }, 'Details.Input.StreamUrl', /NUL/],
  ])('%j → %s', (over, field, message) => {
    expect(errorsOf(over)).toEqual([{ field, message: expect.stringMatching(message) }]);
  });

  it('passes identifiers right at their limits', () => {
    expect(
      errorsOf({ taskid: 'x'.repeat(TASK_ID_MAX_CHARS), userid: 'u'.repeat(255), appid: '4294967295' }),
    ).toEqual([]);
  });
});
