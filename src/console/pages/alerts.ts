/** GET /console/alerts?kind=&appId=&taskId= — the alert log, newest first. */
import { html } from '../html';
import { param, unavailable, type ConsoleDeps, type Page } from '../deps';
import { badge, notice, table, time } from '../parts';
import { taskHref } from './tasks';

const KINDS = [
  'abnormal_stop',
  'orphaned_stop',
  'stale_task',
  'follow_up_failed',
  'callback_backlog',
  'callback_rejected',
];
const LIMIT = 200;

export async function alertsPage(deps: ConsoleDeps, query: Record<string, unknown>): Promise<Page> {
  const kind = param(query, 'kind');
  const appId = param(query, 'appId');
  const taskId = param(query, 'taskId');
  const head = html`<h1>Alerts</h1>`;
  if (!deps.alerts) {
    return {
      title: 'Alerts',
      section: 'alerts',
      body: html`${head}${notice('info', 'The alert log needs DATABASE_URL (or npm run dev).')}`,
    };
  }
  let alerts;
  try {
    alerts = await deps.alerts.list({
      kind: kind || undefined,
      appId: appId || undefined,
      taskId: taskId || undefined,
      limit: LIMIT,
      newestFirst: true,
    });
  } catch {
    throw unavailable('The alert log');
  }
  const kinds = [...new Set([...KINDS, ...(kind ? [kind] : [])])];
  const options = ['', ...kinds].map(
    (k) =>
      html`<option value="${k}" ${k === kind ? html` selected` : ''}>
        ${k ? k.replace(/_/g, ' ') : 'any'}
      </option>`,
  );
  const body = html`${head}
    <form class="filters" method="get" action="/console/alerts" aria-label="Filter alerts">
      <div class="field">
        <label for="a-kind">Kind</label
        ><select id="a-kind" name="kind">
          ${options}
        </select>
      </div>
      <div class="field">
        <label for="a-app">App ID</label
        ><input id="a-app" name="appId" value="${appId}" size="12" autocomplete="off" />
      </div>
      <div class="field">
        <label for="a-task">TaskId</label
        ><input id="a-task" name="taskId" value="${taskId}" size="28" autocomplete="off" spellcheck="false" />
      </div>
      <button type="submit">Show</button>
    </form>
    ${table({
      label: 'Alerts',
      id: 'alerts',
      columns: ['Kind', 'Occurred', 'Task', 'App', 'Reason', 'Webhook'],
      rows: alerts.map((a) => [
        badge(a.kind),
        time(a.occurredAt),
        a.taskId ? html`<a class="mono" href="${taskHref(a.appId, a.taskId)}">${a.taskId}</a>` : '—',
        html`<span class="mono">${a.appId}</span>`,
        a.reason,
        html`${badge(a.delivery)}${a.deliveryError ? html` <span class="muted">${a.deliveryError.slice(0, 200)}</span>` : ''}`,
      ]),
      empty: 'No alert.',
    })}${alerts.length === LIMIT ? html`<p class="muted">The newest ${LIMIT} are shown; narrow the filters for older ones.</p>` : ''}`;
  return { title: 'Alerts', section: 'alerts', body };
}
