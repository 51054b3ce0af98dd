/** `usage`: billed usage of an app from the ledger (GET /usage), as a table, JSON or CSV. */
import type { UsageAmounts, UsageRow } from '../store/usage';
import {
  EXIT_OK,
  expectArgs,
  printJson,
  renderTable,
  replyError,
  serviceClient,
  stringOption,
  usageError,
  type Cell,
  type Command,
  type CommandContext,
} from './common';

const GROUP_BYS = ['day', 'user'];

interface UsageAnswer {
  appId: string;
  from: string;
  to: string;
  groupBy: 'day' | 'user';
  currency: string;
  rows: UsageRow[];
  totals: UsageAmounts & { byTier: Record<string, UsageAmounts> };
}

function csvField(value: Cell): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV of the rows (no totals row, so the file sums cleanly in a spreadsheet). */
export function usageCsv(answer: UsageAnswer): string {
  const lines = [[answer.groupBy, 'tier', 'seconds', 'minutes', 'cost', 'lifecycles']];
  for (const r of answer.rows) {
    lines.push([r.group, r.tier, String(r.seconds), String(r.minutes), String(r.cost), String(r.lifecycles)]);
  }
  return lines.map((l) => l.map(csvField).join(',')).join('\r\n') + '\r\n';
}

function renderUsage(answer: UsageAnswer): string {
  const title =
    `Usage of app ${answer.appId}: lifecycles stopped from ${answer.from} (inclusive) ` +
    `to ${answer.to} (exclusive), by ${answer.groupBy}, cost in ${answer.currency}\n\n`;
  if (answer.rows.length === 0) return `${title}no billed usage in this range\n`;
  const rows: Cell[][] = answer.rows.map((r) => [
    r.group,
    r.tier,
    r.lifecycles,
    r.seconds,
    r.minutes,
    r.cost,
  ]);
  for (const [tier, t] of Object.entries(answer.totals.byTier)) {
    rows.push(['total', tier, t.lifecycles, t.seconds, t.minutes, t.cost]);
  }
  const t = answer.totals;
  rows.push(['total', 'all', t.lifecycles, t.seconds, t.minutes, t.cost]);
  return (
    title +
    renderTable([answer.groupBy.toUpperCase(), 'TIER', 'LIFECYCLES', 'SECONDS', 'MINUTES', 'COST'], rows)
  );
}

const usage: Command = {
  name: 'usage',
  summary: 'billed usage of an app per day or user and tier, from the ledger',
  help: `Usage: zego-transcode usage --app <appId> --from <date> --to <date> [--group-by day|user] [--csv | --json] [--url <url>]

Dates are YYYY-MM-DD (00:00 UTC) or ISO date-times with Z or an offset. A lifecycle counts once,
at the time it stopped: --from inclusive, --to exclusive (so --from 2024-03-01 --to 2024-04-01 is
March). Days are UTC days. The range may span at most 366 days.

--csv prints the rows only (group, tier, seconds, minutes, cost, lifecycles); the table and
--json include totals per tier and overall.
`,
  options: {
    app: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'group-by': { type: 'string' },
    csv: { type: 'boolean' },
  },
  async run(ctx: CommandContext) {
    expectArgs(ctx, []);
    const missing = ['app', 'from', 'to'].filter((name) => ctx.values[name] === undefined);
    if (missing.length > 0) throw usageError(`usage needs ${missing.map((m) => `--${m}`).join(', ')}`);
    const groupBy = stringOption(ctx.values, 'group-by') ?? 'day';
    if (!GROUP_BYS.includes(groupBy)) {
      throw usageError(`--group-by ${JSON.stringify(groupBy)} is not one of ${GROUP_BYS.join(', ')}`);
    }
    if (ctx.values.csv && ctx.json) throw usageError('choose one of --csv and --json');
    const query = new URLSearchParams({
      appId: stringOption(ctx.values, 'app') as string,
      from: stringOption(ctx.values, 'from') as string,
      to: stringOption(ctx.values, 'to') as string,
      groupBy,
    });
    const client = serviceClient(ctx.values, ctx.io.env);
    const reply = await client.get(`/usage?${query.toString()}`);
    if (reply.status !== 200) throw replyError(reply, 'usage report');
    const answer = reply.body as unknown as UsageAnswer;
    if (ctx.json) printJson(ctx.io, answer);
    else if (ctx.values.csv) ctx.io.stdout(usageCsv(answer));
    else ctx.io.stdout(renderUsage(answer));
    return EXIT_OK;
  },
};

export const usageCommands: Command[] = [usage];
