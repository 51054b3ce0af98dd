/**
 * GET /console — running and recent lifecycles (Temporal visibility), filtered by status and app,
 * and the TaskId search: one match opens the task, several list their apps.
 */
import { LIFECYCLE_STATUSES, type LifecycleStatus } from '../../../workflows/definitions';
import type { TaskListItem } from '../../http/ports';
import { consoleHref, html, type SafeHtml } from '../html';
import { param, PageError, Redirect, unavailable, type ConsoleDeps, type Page } from '../deps';
import { badge, notice, table, time } from '../parts';

const RUNNING_LIMIT = 100;
const RECENT_LIMIT = 50;

export function taskHref(appId: string, taskId: string): string {
  return consoleHref(['apps', appId, 'tasks', taskId]);
}

function taskTable(label: string, tasks: readonly TaskListItem[], empty: string): SafeHtml {
  return table({
    label,
    columns: ['TaskId', 'App', 'User', 'Status', 'Started', 'Closed'],
    rows: tasks.map((t) => [
      html`<a class="mono" href="${taskHref(t.appId, t.taskId)}">${t.taskId}</a>`,
      html`<span class="mono">${t.appId}</span>`,
      html`<span class="mono">${t.userId}</span>`,
      badge(t.status ?? t.executionStatus.toLowerCase()),
      time(t.startTime),
      t.closeTime ? time(t.closeTime) : html`<span class="muted">open</span>`,
    ]),
    empty,
  });
}

function filterForm(status: string, appId: string, taskId: string): SafeHtml {
  const options = ['', ...LIFECYCLE_STATUSES].map(
    (s) =>
      html`<option value="${s}" ${s === status ? html` selected` : ''}>
        ${s ? s.replace(/_/g, ' ') : 'any'}
      </option>`,
  );
  return html`<form class="filters" method="get" action="/console" role="search" aria-label="Find tasks">
    <div class="field">
      <label for="f-status">Status</label
      ><select id="f-status" name="status">
        ${options}
      </select>
    </div>
    <div class="field">
      <label for="f-app">App ID</label
      ><input id="f-app" name="appId" value="${appId}" inputmode="numeric" size="12" autocomplete="off" />
    </div>
    <div class="field">
      <label for="f-task">TaskId</label
      ><input id="f-task" name="taskId" value="${taskId}" size="28" autocomplete="off" spellcheck="false" />
    </div>
    <button type="submit">Show</button>
    ${status || appId || taskId ? html`<a href="/console">Clear</a>` : ''}
  </form>`;
}

async function list(
  deps: ConsoleDeps,
  filter: { status?: LifecycleStatus; appId?: string; limit: number },
): Promise<TaskListItem[]> {
  try {
    return await deps.gateway.list(filter);
  } catch {
    throw unavailable('Tasks (Temporal)');
  }
}

async function inboxCards(deps: ConsoleDeps): Promise<SafeHtml> {
  if (!deps.inbox) return html``;
  try {
    const stats = await deps.inbox.stats();
    return html`<div class="cards">
      <div class="card">
        <div class="muted">Inbox pending</div>
        <div class="value"><a href="/console/inbox?status=pending">${stats.pending}</a></div>
      </div>
      <div class="card">
        <div class="muted">Inbox rejected</div>
        <div class="value"><a href="/console/inbox?status=rejected">${stats.rejected}</a></div>
      </div>
      <div class="card">
        <div class="muted">Oldest pending</div>
        <div class="value">${Math.round(stats.oldestPendingAgeSeconds)} s</div>
      </div>
    </div>`;
  } catch {
    return notice('error', 'The callback inbox could not be read just now.');
  }
}

export async function tasksPage(deps: ConsoleDeps, query: Record<string, unknown>): Promise<Page> {
  const status = param(query, 'status');
  const appId = param(query, 'appId');
  const taskId = param(query, 'taskId');
  if (status && !(LIFECYCLE_STATUSES as readonly string[]).includes(status)) {
    throw new PageError(400, 'Bad request', `“${status.slice(0, 64)}” is not a task status`);
  }
  const parts: SafeHtml[] = [html`<h1>Tasks</h1>`, filterForm(status, appId, taskId)];

  if (taskId) {
    let apps: string[];
    try {
      apps = [...new Set(await deps.gateway.appsForTask(taskId))].sort();
    } catch {
      throw unavailable('Tasks (Temporal)');
    }
    const inApp = appId ? apps.filter((a) => a === appId) : apps;
    if (inApp.length === 1) throw new Redirect(taskHref(inApp[0], taskId));
    if (inApp.length === 0) {
      parts.push(
        notice(
          'info',
          html`No task with TaskId <code>${taskId}</code>${appId ? html` in app ${appId}` : ''}.`,
        ),
      );
    } else {
      parts.push(
        html`<h2>TaskId <code>${taskId}</code> exists in ${inApp.length} apps</h2>
          <ul>
            ${inApp.map((a) => html`<li><a href="${taskHref(a, taskId)}">app ${a}</a></li>`)}
          </ul>`,
      );
    }
    return { title: 'Tasks', section: 'tasks', body: html`${parts}` };
  }

  if (status || appId) {
    const tasks = await list(deps, {
      status: (status || undefined) as LifecycleStatus | undefined,
      appId: appId || undefined,
      limit: RUNNING_LIMIT,
    });
    parts.push(
      html`<h2 id="matching">
        Matching tasks
        <span class="muted">(${tasks.length}${tasks.length === RUNNING_LIMIT ? '+' : ''})</span>
      </h2>`,
      taskTable('Matching tasks', tasks, 'No task matches these filters.'),
    );
    return { title: 'Tasks', section: 'tasks', body: html`${parts}` };
  }

  const [running, recent, cards] = await Promise.all([
    list(deps, { status: 'running', limit: RUNNING_LIMIT }),
    list(deps, { limit: RECENT_LIMIT }),
    inboxCards(deps),
  ]);
  parts.splice(1, 0, cards);
  parts.push(
    html`<h2 id="running">
      Running <span class="muted">(${running.length}${running.length === RUNNING_LIMIT ? '+' : ''})</span>
    </h2>`,
    taskTable('Running tasks', running, 'No task is running.'),
    html`<h2 id="recent">Recent</h2>`,
    taskTable('Recent tasks', recent, 'No task yet.'),
  );
  return { title: 'Tasks', section: 'tasks', body: html`${parts}` };
}
