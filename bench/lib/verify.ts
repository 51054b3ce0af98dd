/**
 * Verify-and-parse cost per callback in isolation: `readCallback` (decode, signature, schema,
 * fingerprint) on realistic bodies, against a bare `JSON.parse` of the same body in the same loop
 * shape, plus each stage alone so that a miss can be traced to its stage.
 */
import { performance } from 'node:perf_hooks';
import { readCallback } from '../../src/zego/callback';
import { decodeCallbackBody } from '../../src/zego/decode';
import { callbackFingerprint } from '../../src/zego/fingerprint';
import { verifyCallbackSignature } from '../../src/zego/signature';
import { encodeCallback, transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';
import { spread, type Spread } from './stats';

const SECRET = 'bench-verify-secret';
const OPTS = { secrets: [SECRET], maxSkewMs: 24 * 3_600_000 };

export interface VerifyResult {
  case: string;
  bytes: number;
  /** µs per call, median and spread over the runs. */
  readCallback: Spread;
  /** `JSON.parse` of the body (form bodies: URLSearchParams, then JSON.parse of Details). */
  jsonParse: Spread;
  stages: Record<string, Spread>;
}

function timeLoop(iterations: number, fn: (i: number) => unknown): number {
  let sink = 0;
  const t = performance.now();
  for (let i = 0; i < iterations; i++) if (fn(i)) sink++;
  const us = ((performance.now() - t) * 1000) / iterations;
  if (sink < 0) throw new Error('unreachable');
  return us;
}

export function benchVerify(opts: { iterations: number; runs: number }): VerifyResult[] {
  const three = (w: number, h: number, i: number) => ({
    StreamId: `out-${i}`,
    VideoEncId: 1,
    Fps: 15,
    ShortEdgeAdaption: 0,
    Width: w,
    Height: h,
    VideoBitrate: 1_800_000,
    GOP: 2,
  });
  const start = transcodeStart(
    {
      Appid: '1234567890',
      TaskId: 'task-0123456789abcdef',
      Details: {
        Input: { StreamId: 'input-stream' },
        Outputs: [three(640, 360, 1), three(1280, 720, 2), three(1920, 1080, 3)],
      },
    },
    { secret: SECRET },
  );
  const stop = transcodeStop(
    { Appid: '1234567890', TaskId: 'task-0123456789abcdef', Sequence: 4 },
    { secret: SECRET },
  );
  const cases: [string, { body: string; contentType: string }][] = [
    ['start, JSON, 3 outputs', encodeCallback(start, 'json')],
    ['stop, JSON', encodeCallback(stop, 'json')],
    ['start, form fields', encodeCallback(start, 'form')],
  ];

  return cases.map(([name, { body, contentType }]) => {
    const buf = Buffer.from(body);
    const check = readCallback(buf, contentType, OPTS);
    if (check.kind !== 'transcode') throw new Error(`${name} does not verify: ${JSON.stringify(check)}`);
    const decoded = decodeCallbackBody(buf, contentType);
    const fields = decoded.ok ? decoded.value : {};
    const sig = {
      timestamp: String(fields['timestamp']),
      nonce: String(fields['nonce']),
      signature: String(fields['signature']),
    };
    const loops: Record<string, (i: number) => unknown> = {
      readCallback: () => readCallback(buf, contentType, OPTS).kind === 'transcode',
      // The baseline: the least any receiver does with the same bytes.
      jsonParse: contentType.startsWith('application/json')
        ? () => JSON.parse(buf.toString('utf8')) !== null
        : () => {
            const form = Object.fromEntries(new URLSearchParams(buf.toString('utf8')));
            return JSON.parse(form.Details ?? 'null') !== null;
          },
      decode: () => decodeCallbackBody(buf, contentType).ok,
      signature: () => {
        verifyCallbackSignature(sig, OPTS.secrets, OPTS);
        return true;
      },
      fingerprint: () => callbackFingerprint(check.callback).length === 64,
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(loops).map((k) => [k, []]));
    // Warm-up (JIT), then the runs, interleaving the loops so drift hits them alike.
    for (const fn of Object.values(loops)) timeLoop(Math.min(2000, opts.iterations), fn);
    for (let r = 0; r < opts.runs; r++) {
      for (const [k, fn] of Object.entries(loops)) samples[k].push(timeLoop(opts.iterations, fn));
    }
    return {
      case: name,
      bytes: buf.length,
      readCallback: spread(samples.readCallback),
      jsonParse: spread(samples.jsonParse),
      stages: {
        decode: spread(samples.decode),
        signature: spread(samples.signature),
        fingerprint: spread(samples.fingerprint),
      },
    };
  });
}
