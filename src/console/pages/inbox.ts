/**
 * GET /console/inbox — the callback inbox: pending and rejected entries (or one status, app, task),
 * with a redeliver button per entry and one for all rejected entries (POSTs with the CSRF token;
 * after them the browser is sent back where it was, with what happened).
 */
import { INBOX_STATUSES, type InboxEntry, type InboxStatus } from '../../store/inbox';
import { formatDuration } from '../format';
import { consoleHref, html, type SafeHtml } from '../html';
import { PageError, param, unavailable, type ConsoleDeps, type Page } from '../deps';
import { badge, notice, table, time } from '../parts';

const LIST_LIMIT = 100;

export interface FormContext {
  /** The session's CSRF token ('' when signed in with a bearer token: no ambient credential). */
  csrf: string;
}

function taskLink(e: InboxEntry): SafeHtml {
  return html`<a class="mono" href="${consoleHref(['apps', e.appId, 'tasks', e.taskId])}">${e.taskId}</a>`;
}

function redeliverForm(e: InboxEntry, ctx: FormContext, back: string): SafeHtml {
  if (e.status === 'pending') return html`<span class="muted">on its way</span>`;
  return html`<form class="inline" method="post" action="${consoleHref(['inbox', e.id, 'redeliver'])}">
    <input type="hidden" name="csrf" value="${ctx.csrf}" /><input
      type="hidden"
      name="back"
      value="${back}"
    /><button type="submit" class="secondary" aria-label="Redeliver callback ${e.id}">Redeliver</button>
  </form>`;
}

export function inboxTable(
  entries: readonly InboxEntry[],
  opts: { label: string; back: string; ctx: FormContext; id?: string },
): SafeHtml {
  return table({
    label: opts.label,
    id: opts.id,
    columns: [
      { label: 'ID', num: true },
      'Task',
      'Event',
      { label: 'Seq', num: true },
      'State',
      'Received',
      { label: 'Attempts', num: true },
      { label: 'Redeliveries', num: true },
      'Delivered',
      'Error',
      'Action',
    ],
    rows: entries.map((e) => [
      e.id,
      taskLink(e),
      html`<span class="mono">${e.event}</span> <span class="muted">${e.callbackStatus}</span>`,
      e.sequence,
      badge(e.status),
      time(e.receivedAt),
      e.attempts,
      e.redeliveries,
      e.deliveredAt ? html`${time(e.deliveredAt)} <span class="muted">${e.outcome ?? ''}</span>` : '—',
      e.error ? html`<span class="mono">${e.error.slice(0, 300)}</span>` : '',
      redeliverForm(e, opts.ctx, opts.back),
    ]),
    empty: 'No entry.',
  });
}

/** Only paths of the console itself: never a redirect elsewhere. */
export function safeBack(value: unknown, fallback = '/console/inbox'): string {
  return typeof value === 'string' && /^\/console(\/[^/\\]|\?|$)/.test(value) && !/[\r\n]/.test(value)
    ? value
    : fallback;
}

function doneNotice(query: Record<string, unknown>): SafeHtml | '' {
  const done = param(query, 'done');
  const n = param(query, 'n');
  if (done === 'one' && /^\d{1,19}$/.test(n)) return notice('ok', `Callback ${n} handed back to the relay.`);
  if (done === 'all' && /^\d{1,9}$/.test(n)) {
    return notice(
      'ok',
      n === '0' ? 'No rejected callback to redeliver.' : `${n} rejected callbacks handed back to the relay.`,
    );
  }
  if (done === 'unknown') return notice('error', 'That callback is no longer in the log.');
  return '';
}

export async function inboxPage(
  deps: ConsoleDeps,
  query: Record<string, unknown>,
  ctx: FormContext,
): Promise<Page> {
  const status = param(query, 'status');
  const appId = param(query, 'appId');
  const taskId = param(query, 'taskId');
  if (status && !(INBOX_STATUSES as readonly string[]).includes(status)) {
    throw new PageError(400, 'Bad request', `“${status.slice(0, 64)}” is not an inbox state`);
  }
  const head = html`<h1>Callback inbox</h1>
    ${doneNotice(query)}`;
  if (!deps.inbox) {
    return {
      title: 'Inbox',
      section: 'inbox',
      body: html`${head}${notice('info', 'The callback inbox needs DATABASE_URL (or npm run dev): this server acknowledges callbacks only after Temporal took them.')}`,
    };
  }
  const inbox = deps.inbox;
  const back = consoleHref(['inbox'], { status, appId, taskId });
  const listOf = (s: InboxStatus) =>
    inbox.list({ status: s, appId: appId || undefined, taskId: taskId || undefined, limit: LIST_LIMIT });
  let stats, lists: [InboxStatus, InboxEntry[]][];
  try {
    const shown: InboxStatus[] = status ? [status as InboxStatus] : ['pending', 'rejected'];
    [stats, lists] = await Promise.all([
      inbox.stats(),
      Promise.all(shown.map(async (s) => [s, await listOf(s)] as [InboxStatus, InboxEntry[]])),
    ]);
  } catch {
    throw unavailable('The callback inbox');
  }
  const options = ['', ...INBOX_STATUSES].map(
    (s) =>
      html`<option value="${s}" ${s === status ? html` selected` : ''}>
        ${s || 'pending and rejected'}
      </option>`,
  );
  const body = html`${head}
    <div class="cards">
      <div class="card">
        <div class="muted">Pending</div>
        <div class="value" id="stat-pending">${stats.pending}</div>
      </div>
      <div class="card">
        <div class="muted">Rejected</div>
        <div class="value" id="stat-rejected">${stats.rejected}</div>
      </div>
      <div class="card">
        <div class="muted">Oldest pending</div>
        <div class="value">${stats.pending ? formatDuration(stats.oldestPendingAgeSeconds) : '—'}</div>
      </div>
    </div>
    <form class="filters" method="get" action="/console/inbox" aria-label="Filter the inbox">
      <div class="field">
        <label for="i-status">State</label
        ><select id="i-status" name="status">
          ${options}
        </select>
      </div>
      <div class="field">
        <label for="i-app">App ID</label
        ><input id="i-app" name="appId" value="${appId}" size="12" autocomplete="off" />
      </div>
      <div class="field">
        <label for="i-task">TaskId</label
        ><input id="i-task" name="taskId" value="${taskId}" size="28" autocomplete="off" spellcheck="false" />
      </div>
      <button type="submit">Show</button>
    </form>
    <div class="actions">
      <form class="inline" method="post" action="/console/inbox/redeliver-rejected">
        <input type="hidden" name="csrf" value="${ctx.csrf}" /><input
          type="hidden"
          name="back"
          value="${back}"
        /><button type="submit" id="redeliver-rejected">Redeliver all rejected (${stats.rejected})</button>
      </form>
      <span class="muted"
        >A redelivered callback counts as one more delivery for its lifecycle: it changes nothing else.</span
      >
    </div>
    ${lists.map(
      ([s, entries]) =>
        html`<h2 id="inbox-${s}">
            ${s[0].toUpperCase() + s.slice(1)}
            <span class="muted">(${entries.length}${entries.length === LIST_LIMIT ? '+' : ''})</span>
          </h2>
          ${inboxTable(entries, { label: `${s} callbacks`, back, ctx, id: `entries-${s}` })}`,
    )}`;
  return { title: 'Inbox', section: 'inbox', body };
}
