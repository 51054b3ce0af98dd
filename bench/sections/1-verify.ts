/** 1. Verify-and-parse cost (`readCallback`) per callback in isolation (bench/lib/verify.ts). */
import { met, table, type SummaryRow } from '../lib/markdown';
import type { Sizes } from '../lib/run-context';
import { formatSpread } from '../lib/stats';
import { TARGETS } from '../lib/targets';
import { benchVerify, type VerifyResult } from '../lib/verify';

export interface VerifySection {
  iterations: number;
  runs: number;
  cases: VerifyResult[];
}

export function measure(sizes: Sizes, log: (line: string) => void): VerifySection {
  const cases = benchVerify(sizes.verify);
  for (const v of cases)
    log(
      `  ${v.case}: ${v.readCallback.median.toFixed(1)} µs (JSON.parse ${v.jsonParse.median.toFixed(1)} µs)`,
    );
  return { ...sizes.verify, cases };
}

export function summary(r: VerifySection): SummaryRow[] {
  const worst = r.cases.reduce((a, b) => (b.readCallback.median > a.readCallback.median ? b : a));
  const first = r.cases[0];
  const target = `≤ ${TARGETS.readCallbackUs} µs`;
  return [
    [
      `readCallback per callback (worst case: ${worst.case})`,
      `${worst.readCallback.median.toFixed(1)} µs`,
      target,
      met(worst.readCallback.median <= TARGETS.readCallbackUs),
    ],
    [
      `readCallback, ${first.case}`,
      formatSpread(first.readCallback, 1, ' µs'),
      target,
      met(first.readCallback.median <= TARGETS.readCallbackUs),
    ],
  ];
}

export function render(r: VerifySection): string[] {
  return [
    '## 1. Verify-and-parse cost (`readCallback`)',
    '',
    `Per call, in the bench process, ${r.iterations.toLocaleString('en-US')} calls per run, ${r.runs} runs, ` +
      'the loops interleaved. The baseline is the least any receiver does with the same bytes: `JSON.parse` ' +
      '(form bodies: `URLSearchParams`, then `JSON.parse` of `Details`). The stage columns time each ' +
      'stage alone (decode = lossless JSON/form decoding with key lowercasing; signature = SHA-1 check; ' +
      'fingerprint = canonical JSON + SHA-256); the rest of readCallback is the zod schema.',
    '',
    table(
      [
        'body',
        'bytes',
        'readCallback µs',
        'baseline µs',
        'ratio',
        'decode µs',
        'signature µs',
        'fingerprint µs',
      ],
      r.cases.map((v) => [
        v.case,
        v.bytes,
        formatSpread(v.readCallback, 1),
        formatSpread(v.jsonParse, 1),
        `${(v.readCallback.median / v.jsonParse.median).toFixed(0)}×`,
        v.stages.decode.median.toFixed(1),
        v.stages.signature.median.toFixed(1),
        v.stages.fingerprint.median.toFixed(1),
      ]),
    ),
    '',
  ];
}

/** `serverCpuMs`: the server's CPU per callback (section 2), to put readCallback in proportion. */
export function findings(r: VerifySection, serverCpuMs: number | null): string[] {
  const v = r.cases[0];
  return [
    `- **readCallback (${v.readCallback.median.toFixed(0)} µs for "${v.case}").** By stage: decode ` +
      `${v.stages.decode.median.toFixed(0)} µs (lossless JSON parsing with key lowercasing, ~` +
      `${(v.stages.decode.median / v.jsonParse.median).toFixed(0)}× a native JSON.parse), fingerprint ` +
      `${v.stages.fingerprint.median.toFixed(0)} µs (canonical JSON by recursion, then SHA-256), signature ` +
      `${v.stages.signature.median.toFixed(0)} µs, the zod schema the rest.` +
      (serverCpuMs !== null
        ? ` It is ${((v.readCallback.median / 1000 / Math.max(serverCpuMs, 0.001)) * 100).toFixed(1)}% of the ` +
          "server's CPU per callback."
        : ''),
  ];
}
