/**
 * `npm run simulate -- --url http://127.0.0.1:3000 --secret … --tasks 50 …`: realistic signed ZEGO
 * transcoding traffic against a running service. Exit code 0 when everything was acknowledged, 1 when
 * anything was given up (ZEGO would have lost it), 2 on bad arguments.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import ms from 'ms';
import { DEFAULTS, SimulationOptionsError, type SimulationOptions } from './options';
import { formatTable } from './report';
import { runSimulation } from './run';
import type { EncodingChoice } from './encoding';

const HELP = `Usage: npm run simulate -- --url URL [options]

Sends the signed callbacks of N simulated ZEGO single-stream transcoding tasks (start, updates, stop)
with ZEGO's retry policy, and reports how they were acknowledged.

  --url URL              service base URL (/zego/callback is appended) or the full callback URL (required)
  --secret TEXT          CallbackSecret to sign with (default: env ZEGO_CALLBACK_SECRET, first entry)
  --tasks N              task lifecycles (default ${DEFAULTS.tasks})
  --updates K            each task gets 0..K TranscodeUpdated callbacks (default ${DEFAULTS.updates})
  --duration D           simulated task length; a bare number is seconds, or 90s, 3m (default ${DEFAULTS.durationSeconds});
                         each task lasts between D/2 and D, compressed into the run
  --abnormal-share P     share of tasks stopped with StopReason 1 (default ${DEFAULTS.abnormalShare})
  --buggy-status-share P share of stops with ZEGO's documented Status TranscodeStarted (default ${DEFAULTS.buggyStatusShare})
  --duplicate-rate P     per callback, chance of an identical redelivery (default 0)
  --resign-rate P        per callback, chance of a redelivery with new Timestamp/Nonce/Signature (default 0)
  --reorder-rate P       per task, chance the stop or an update arrives before the start (default 0)
  --late-rate P          per callback, chance of an identical redelivery after --late-delay (default 0)
  --late-delay T         e.g. 10s, 2m; a bare number is ms (default 10s)
  --encoding E           json | urlencoded-json | form | mixed (default json)
  --concurrency N        requests in flight at most (default ${DEFAULTS.concurrency})
  --rate R               new callbacks per second at most, open loop (default: as fast as concurrency allows)
  --seed TEXT            makes the run reproducible (default: random, printed)
  --retry-scale X        multiplies ZEGO's 2/4/8/16/32 s retry intervals, e.g. 0.01 (default 1)
  --timeout T            per request, e.g. 5s, 500ms; a bare number is ms (default 5s)
  --max-skew T           the service's ZEGO_CALLBACK_MAX_SKEW (default 5m)
  --app-id ID            Appid of every callback (default ${DEFAULTS.appId})
  --json                 print the summary as JSON instead of a table
  --expect-file PATH     write the expected final state of every task (status, billing per tier) as JSON
  --help                 this text

Exit code: 0 all acknowledged, 1 something given up after ZEGO's 5 retries, 2 bad arguments.`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

class UsageError extends Error {}

/** Runs the CLI; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  let options: SimulationOptions;
  let json: boolean;
  let expectFile: string | undefined;
  try {
    const parsed = parse(argv);
    if (parsed === 'help') {
      io.stdout(`${HELP}\n`);
      return 0;
    }
    ({ options, json, expectFile } = toOptions(parsed, io.env));
  } catch (err) {
    if (!(err instanceof UsageError || isParseArgsError(err))) throw err;
    io.stderr(`simulate: ${err.message}\nRun with --help for usage.\n`);
    return 2;
  }

  let report;
  try {
    report = await runSimulation(options);
  } catch (err) {
    if (!(err instanceof SimulationOptionsError)) throw err;
    io.stderr(err.problems.map((p) => `simulate: ${p}\n`).join('') + 'Run with --help for usage.\n');
    return 2;
  }

  io.stdout(json ? `${JSON.stringify(report.summary, null, 2)}\n` : `${formatTable(report.summary)}\n`);
  if (expectFile) {
    writeFileSync(
      expectFile,
      `${JSON.stringify({ seed: report.summary.seed, tasks: report.expected }, null, 2)}\n`,
    );
    if (!json) io.stdout(`expected states of ${report.expected.length} tasks written to ${expectFile}\n`);
  }
  if (report.lost.length) {
    const shown = report.lost.slice(0, 20);
    io.stderr(
      `simulate: ${report.lost.length} callback(s) given up after ZEGO's retries:\n` +
        shown
          .map((l) => `  ${l.taskId} ${l.event} seq ${l.sequence} (${l.kind}): ${l.outcomes.join(', ')}\n`)
          .join('') +
        (report.lost.length > shown.length ? `  … and ${report.lost.length - shown.length} more\n` : ''),
    );
    return 1;
  }
  return 0;
}

const STRING_FLAGS = [
  'url',
  'secret',
  'tasks',
  'updates',
  'duration',
  'abnormal-share',
  'buggy-status-share',
  'duplicate-rate',
  'resign-rate',
  'reorder-rate',
  'late-rate',
  'late-delay',
  'encoding',
  'concurrency',
  'rate',
  'seed',
  'retry-scale',
  'timeout',
  'max-skew',
  'app-id',
  'expect-file',
] as const;
type Flag = (typeof STRING_FLAGS)[number];
type Parsed = Partial<Record<Flag, string>> & { json?: boolean };

function parse(argv: string[]): Parsed | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(STRING_FLAGS.map((flag) => [flag, { type: 'string' as const }])),
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  return values as Parsed;
}

/**
 * node:util parseArgs reports unknown or malformed flags with an ERR_PARSE_ARGS_* code (checked by code,
 * not by class: under jest the error comes from another realm).
 */
function isParseArgsError(err: unknown): err is Error {
  return (
    typeof err === 'object' &&
    err !== null &&
    String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS') &&
    typeof (err as { message?: unknown }).message === 'string'
  );
}

function toOptions(
  v: Parsed,
  env: Record<string, string | undefined>,
): { options: SimulationOptions; json: boolean; expectFile?: string } {
  if (!v.url) throw new UsageError('--url is required (the service base URL or its callback URL)');
  // ZEGO_CALLBACK_SECRET may list several secrets (rotation); the first one signs.
  const secret = v.secret ?? env.ZEGO_CALLBACK_SECRET?.split(',')[0]?.trim();
  if (!secret) throw new UsageError('--secret is required (or set ZEGO_CALLBACK_SECRET)');
  const options: SimulationOptions = {
    url: v.url,
    secret,
    tasks: integer(v, 'tasks'),
    updates: integer(v, 'updates'),
    durationSeconds: duration(v, 'duration', 's', 1000),
    abnormalShare: share(v, 'abnormal-share'),
    buggyStatusShare: share(v, 'buggy-status-share'),
    duplicateRate: share(v, 'duplicate-rate'),
    resignRate: share(v, 'resign-rate'),
    reorderRate: share(v, 'reorder-rate'),
    lateRate: share(v, 'late-rate'),
    lateDelayMs: duration(v, 'late-delay', 'ms', 1),
    encoding: v.encoding as EncodingChoice | undefined,
    concurrency: integer(v, 'concurrency'),
    ratePerSecond: number(v, 'rate'),
    seed: v.seed,
    retryScale: number(v, 'retry-scale'),
    timeoutMs: duration(v, 'timeout', 'ms', 1),
    maxSkewMs: duration(v, 'max-skew', 'ms', 1),
    appId: v['app-id'],
  };
  return { options, json: v.json === true, expectFile: v['expect-file'] };
}

function number(v: Parsed, flag: Flag): number | undefined {
  const text = v[flag];
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n))
    throw new UsageError(`--${flag} ${JSON.stringify(text)} is not a number`);
  return n;
}

function integer(v: Parsed, flag: Flag): number | undefined {
  const n = number(v, flag);
  if (n !== undefined && !Number.isInteger(n))
    throw new UsageError(`--${flag} ${v[flag]} is not a whole number`);
  return n;
}

function share(v: Parsed, flag: Flag): number | undefined {
  const n = number(v, flag);
  if (n !== undefined && (n < 0 || n > 1))
    throw new UsageError(`--${flag} ${v[flag]} must be between 0 and 1`);
  return n;
}

/** ms-style (`500ms`, `90s`, `2m`); a bare number is in `bareUnit`. Result in units of `perUnitMs` ms. */
function duration(v: Parsed, flag: Flag, bareUnit: 's' | 'ms', perUnitMs: number): number | undefined {
  const text = v[flag]?.trim();
  if (text === undefined) return undefined;
  let msValue: number | undefined;
  if (/^\d+(\.\d+)?$/.test(text)) msValue = Number(text) * (bareUnit === 's' ? 1000 : 1);
  else {
    try {
      msValue = ms(text as ms.StringValue) as number | undefined;
    } catch {
      msValue = undefined;
    }
  }
  if (typeof msValue !== 'number' || !Number.isFinite(msValue) || msValue < 0) {
    throw new UsageError(`--${flag} ${JSON.stringify(v[flag])} is not a duration (e.g. 500ms, 10s, 2m)`);
  }
  return msValue / perUnitMs;
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`simulate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
