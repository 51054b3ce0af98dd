/**
 * 7. `npm run dev`: its inbox in the embedded database against the direct hand-off in the same one
 * process, and what else its throughput depends on (the dev server's SQLite journal, PGlite, one
 * process or three), one change at a time (bench/lib/dev-mode.ts).
 */
import type { BenchEnv } from '../lib/bench-env';
import { DEV_DIRECT, devModeInvestigation, type DevVariantResult } from '../lib/dev-mode';
import { met, table, type SummaryRow } from '../lib/markdown';
import { CONCURRENCY } from '../lib/run-context';
import { TARGETS } from '../lib/targets';
import { DEV_SERVER_SQLITE_PRAGMAS } from '../../tools/temporal-dev-server/args';

export interface DevSection {
  n: number;
  concurrency: number;
  variants: DevVariantResult[];
}

export async function measure(env: BenchEnv): Promise<DevSection> {
  const { n } = env.sizes.dev;
  const variants = await devModeInvestigation(env.stack, { n, concurrency: CONCURRENCY, log: env.log });
  return { n, concurrency: CONCURRENCY, variants };
}

const by = (d: DevSection, v: string) => d.variants.find((x) => x.variant === v);

/** Delivered /s of `npm run dev` (inbox) over the direct hand-off's, and acknowledged /s likewise. */
function inboxVsDirect(d: DevSection) {
  const inbox = by(d, 'dev');
  const direct = by(d, DEV_DIRECT);
  if (!inbox || !direct) return null;
  return {
    inbox,
    direct,
    delivery: inbox.delivery / direct.delivery,
    ack: inbox.throughput / direct.throughput,
  };
}

export function summary(d: DevSection): SummaryRow[] {
  const c = inboxVsDirect(d);
  if (!c) return [];
  return [
    [
      '`npm run dev` with its inbox (PGlite) / the direct hand-off, delivered per second (acknowledged)',
      `${c.delivery.toFixed(2)} (${c.ack.toFixed(2)}): ${c.inbox.delivery.toFixed(0)}/s vs ${c.direct.delivery.toFixed(0)}/s`,
      `≥ ${TARGETS.devInboxRatio} (no worse)`,
      met(c.delivery >= TARGETS.devInboxRatio),
    ],
  ];
}

const journalText = (d: DevVariantResult) =>
  d.journal === 'WAL' ? 'WAL' : d.journal === 'rollback' ? 'rollback' : d.journal === null ? 'in memory' : '';

export function render(d: DevSection): string[] {
  return [
    '## 7. `npm run dev`: the inbox in its embedded database, and the dev server in WAL mode',
    '',
    `${d.n} start callbacks, closed loop, ${d.concurrency} in flight, after a warm-up; one change at a time. ` +
      'Acknowledged: 200s per second; delivered: from the first callback posted until every acknowledged ' +
      "callback's workflow exists in the variant's Temporal (raw variants: the same). The event-loop delay is the " +
      'p99 of per-second p99s (and the max) of the process that serves HTTP, from a probe loaded with `--import` ' +
      '(bench/lib/eld-probe.mjs). CPU in cores used while the callbacks were answered. SQLite journal: the one the ' +
      "dev server's database was in during the run (a `-wal` file next to it, or none).",
    '',
    table(
      [
        'variant',
        'what changes',
        'SQLite journal',
        'acknowledged /s',
        'delivered /s',
        'p50 ms',
        'p99 ms',
        'event-loop delay p99 / max ms',
        'CPU (cores)',
      ],
      d.variants.map((v) => [
        `\`${v.variant}\``,
        v.description,
        journalText(v),
        v.throughput.toFixed(0),
        v.delivery.toFixed(0),
        v.p50.toFixed(0),
        v.p99.toFixed(0),
        v.eventLoopDelayP99 === null
          ? ''
          : `${v.eventLoopDelayP99.toFixed(0)} / ${v.eventLoopDelayMax?.toFixed(0)}`,
        Object.entries(v.cpu)
          .map(([k, x]) => `${k} ${x.toFixed(2)}`)
          .join(', '),
      ]),
    ),
    '',
    `As shipped, tools/temporal-dev-server starts a file-backed dev server with ` +
      `${DEV_SERVER_SQLITE_PRAGMAS.map((p) => `\`--sqlite-pragma ${p}\``).join(' ')} (\`DEV_SERVER_SQLITE_PRAGMAS\`, ` +
      'when `dbFilename` is set, as `npm run dev` does). The `(rollback journal)` variants are the before: the ' +
      'same Temporal CLI behind a wrapper that drops the `--sqlite-pragma` arguments, i.e. the dev server started ' +
      "exactly as before the change (SQLite's defaults).",
    '',
  ];
}

export function findings(d: DevSection): string[] {
  const out: string[] = [];
  const c = inboxVsDirect(d);
  const at = (v: DevVariantResult) => `${v.throughput.toFixed(0)}/s at p50 ${v.p50.toFixed(0)} ms`;
  if (c)
    out.push(
      `- **\`npm run dev\` keeps its inbox (${c.delivery.toFixed(2)} of the direct hand-off's delivery rate, target ` +
        `≥ ${TARGETS.devInboxRatio} ${c.delivery >= TARGETS.devInboxRatio ? 'met' : 'missed'}).** With the inbox in ` +
        `PGlite the one process acknowledges ${at(c.inbox)} and delivers ${c.inbox.delivery.toFixed(0)}/s; handing each ` +
        `callback to Temporal before answering it acknowledges ${at(c.direct)} (delivered: ` +
        `${c.direct.delivery.toFixed(0)}/s). Event-loop delay p99 ${c.inbox.eventLoopDelayP99?.toFixed(0)} ms with the ` +
        `inbox, ${c.direct.eventLoopDelayP99?.toFixed(0)} ms without.`,
    );
  const [dev, devOld, pg, split, rawFile, rawOld, rawMem] = [
    'dev',
    'dev (rollback journal)',
    'dev+postgres',
    'split',
    'raw (file)',
    'raw (file, rollback journal)',
    'raw (memory)',
  ].map((v) => by(d, v));
  if (dev && devOld && split && rawFile && rawOld && rawMem)
    out.push(
      `- **The dev server's journal (as shipped, WAL: ${at(dev)}; before, rollback journal: ${at(devOld)}; ` +
        `${d.concurrency} in flight).** A plain client without HTTP against the file-backed dev server gets ` +
        `${at(rawOld)} with the rollback journal (a synchronous commit per write) and ${at(rawFile)} in WAL mode with ` +
        `\`synchronous=NORMAL\` (${(rawFile.throughput / rawOld.throughput).toFixed(1)}× the throughput), against ` +
        `${at(rawMem)} for the in-memory dev server; the one-process dev mode gets ${at(devOld)} and ${at(dev)} ` +
        `(${(dev.throughput / devOld.throughput).toFixed(1)}×). Splitting the one process into three gives ` +
        `${at(split)}. PGlite runs on a thread of its own (src/store/pglite-thread-sql.ts; before 2026-12-03 on the ` +
        `main thread, which it kept busy more than half the time under load); the main thread's event-loop delay p99 ` +
        `${dev.eventLoopDelayP99?.toFixed(0)} ms, max ${dev.eventLoopDelayMax?.toFixed(0)} ms` +
        (pg
          ? `, vs ${pg.eventLoopDelayP99?.toFixed(0)} / ${pg.eventLoopDelayMax?.toFixed(0)} ms with PostgreSQL, ` +
            `which gets ${at(pg)})`
          : ')') +
        ". The workflow code itself runs in the SDK's worker thread, not on the main thread.",
    );
  return out;
}
