/**
 * GET /console/apps/:appId/tasks/:taskId — one task's latest lifecycle: facts, the callback
 * timeline (ZEGO's Timestamp beside when we received it, and deliveries), billing segments and
 * lines, alerts, follow-ups, the task's entries in the callback inbox, and a link into the
 * Temporal UI when one is configured.
 */
import type { LifecycleStateDocument } from '../../../workflows/definitions';
import type { InboxEntry } from '../../store/inbox';
import {
  formatCost,
  formatCount,
  formatDuration,
  formatResolution,
  maskStreamUrl,
  zegoTimestampMs,
} from '../format';
import { consoleHref, html, type SafeHtml } from '../html';
import { PageError, unavailable, type ConsoleDeps, type Page } from '../deps';
import { badge, facts, notice, table, time } from '../parts';
import { inboxTable, type FormContext } from './inbox';

const MAX_ID = 256;

export function temporalUiHref(
  ui: { url: string; namespace: string },
  workflowId: string,
  runId: string,
): string {
  return `${ui.url}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

function stopReason(reason: number | null): string {
  if (reason === null) return '—';
  if (reason === 0) return '0 (normal)';
  if (reason === 1) return '1 (ended by ZEGO after an exception)';
  return String(reason);
}

function timeline(doc: LifecycleStateDocument): SafeHtml {
  const events = [...doc.events].sort(
    (a, b) => a.sequence - b.sequence || Date.parse(a.receivedAt) - Date.parse(b.receivedAt),
  );
  const rows = events.map((e) => {
    const zegoMs = zegoTimestampMs(e.timestamp);
    const receivedMs = Date.parse(e.receivedAt);
    const lag = zegoMs !== null && Number.isFinite(receivedMs) ? (receivedMs - zegoMs) / 1000 : null;
    return [
      e.sequence,
      html`<span class="mono">${e.event}</span>`,
      e.status,
      html`${time(zegoMs)} <span class="muted mono">(${e.timestamp})</span>`,
      time(e.receivedAt),
      lag === null ? '—' : formatDuration(lag),
      e.deliveries,
      e.stopReason ?? '',
    ];
  });
  return html`${table({
    label: 'Callback timeline',
    id: 'timeline',
    columns: [
      { label: 'Seq', num: true },
      'Event',
      'Status',
      'Timestamp (ZEGO)',
      'Received at',
      { label: 'Lag', num: true },
      { label: 'Deliveries', num: true },
      { label: 'StopReason', num: true },
    ],
    rows,
    empty: 'No callback yet.',
  })}${doc.eventsOmitted > 0 ? html`<p class="muted">${doc.eventsOmitted} older callbacks are not listed.</p>` : ''}`;
}

function outputsTable(doc: LifecycleStateDocument): SafeHtml {
  return table({
    label: 'Outputs',
    columns: [
      'StreamId',
      'StreamUrl',
      'Resolution',
      { label: 'Fps', num: true },
      { label: 'Bitrate', num: true },
    ],
    rows: doc.outputs.map((o) => [
      html`<span class="mono">${o.StreamId ?? '—'}</span>`,
      html`<span class="mono">${maskStreamUrl(o.StreamUrl, o.StreamId)}</span>`,
      formatResolution(o.Width, o.Height),
      o.Fps ? o.Fps : o.Fps === 0 ? 'same as input' : '—',
      o.VideoBitrate ? formatCount(o.VideoBitrate) : o.VideoBitrate === 0 ? 'same as input' : '—',
    ]),
    empty: 'No outputs known.',
  });
}

function billing(doc: LifecycleStateDocument): SafeHtml {
  const b = doc.billing;
  const segments = doc.segments ?? [];
  const segmentTable = table({
    label: 'Billing segments',
    id: 'segments',
    columns: [{ label: 'Seq', num: true }, 'From', 'Until', { label: 'Duration', num: true }, 'Outputs'],
    rows: segments.map((s) => {
      const from = s.from ? Date.parse(s.from) : NaN;
      const until = s.until ? Date.parse(s.until) : NaN;
      return [
        s.sequence,
        time(s.from),
        s.until ? time(s.until) : html`<span class="muted">open</span>`,
        Number.isFinite(from) && Number.isFinite(until)
          ? formatDuration(Math.max(0, (until - from) / 1000))
          : '—',
        s.outputs.length
          ? s.outputs.map((o) => formatResolution(o.Width, o.Height)).join(', ')
          : html`<span class="muted">none</span>`,
      ];
    }),
    empty: 'No billing segment (no start with outputs).',
  });
  const lines = b.lines ?? [];
  const lineTable = table({
    label: 'Billing lines',
    id: 'billing-lines',
    columns: [
      'Tier',
      { label: 'Seconds', num: true },
      { label: 'Minutes', num: true },
      { label: 'Cost (CNY)', num: true },
    ],
    rows: lines.map((l) => [l.tier, formatCount(l.seconds), formatCount(l.minutes), formatCost(l.cost)]),
    foot: lines.length
      ? [
          'Total',
          formatCount(b.billableSeconds ?? 0),
          formatCount(b.billableMinutes ?? 0),
          formatCost(b.totalCost ?? 0),
        ]
      : undefined,
    empty: b.status === 'pending' ? 'Not billed yet.' : 'Nothing billed.',
  });
  return html`<h2 id="billing">Billing ${badge(b.status)}</h2>
    ${b.finalizedAt ? html`<p class="muted">Finalized ${time(b.finalizedAt)}.</p>` : ''}
    <h3>Segments</h3>
    ${segmentTable}
    <h3>Lines</h3>
    ${lineTable}`;
}

export async function taskPage(
  deps: ConsoleDeps,
  appId: string,
  taskId: string,
  ctx: FormContext,
): Promise<Page> {
  if (!appId || !taskId || appId.length > MAX_ID || taskId.length > MAX_ID) {
    throw new PageError(400, 'Bad request', `App ID and TaskId must be 1–${MAX_ID} characters`);
  }
  let doc: LifecycleStateDocument | null;
  try {
    doc = await deps.gateway.getTask(appId, taskId);
  } catch {
    throw unavailable('The task (Temporal)');
  }
  if (!doc) throw new PageError(404, 'Task not found', `No lifecycle of task ${taskId} in app ${appId}.`);

  let entries: InboxEntry[] | null = null;
  let inboxProblem: SafeHtml | '' = '';
  if (deps.inbox) {
    try {
      entries = await deps.inbox.list({ appId, taskId, limit: 100 });
    } catch {
      inboxProblem = notice('error', 'The callback inbox could not be read just now.');
    }
  }
  const ui = deps.temporalUi;
  const body = html`<p class="muted">
      <a href="/console">Tasks</a> › app <span class="mono">${doc.appId}</span>
    </p>
    <h1>Task <span class="mono">${doc.taskId}</span> ${badge(doc.status)}</h1>
    ${
      ui
        ? html`<p>
            <a
              id="temporal-ui"
              href="${temporalUiHref(ui, doc.workflowId, doc.runId)}"
              target="_blank"
              rel="noopener noreferrer"
              >Open this workflow in the Temporal UI</a
            >
          </p>`
        : ''
    }
    ${facts([
      ['App ID', html`<span class="mono">${doc.appId}</span>`],
      ['UserId', html`<span class="mono">${doc.userId || '—'}</span>`],
      ['Started', time(doc.startedAt)],
      ['Stopped', time(doc.stoppedAt)],
      ['Duration', formatDuration(doc.durationSeconds)],
      ['StopReason', stopReason(doc.stopReason)],
      [
        'Input',
        html`<span class="mono">${doc.input?.StreamId ?? '—'}</span>${doc.input?.StreamUrl ? html` <span class="mono muted">${maskStreamUrl(doc.input.StreamUrl, doc.input.StreamId)}</span>` : ''}`,
      ],
      ['Workflow', html`<span class="mono">${doc.workflowId}</span>`],
      ['Run', html`<span class="mono">${doc.runId}</span>`],
      ['Lifecycle', html`<span class="mono">${doc.lifecycleId}</span>`],
      ['Closed', doc.closed ? 'yes' : 'no (still absorbing late callbacks)'],
      ['Cleanup', badge(doc.cleanup.status)],
    ])}
    <h2 id="timeline-h">Callback timeline</h2>
    ${timeline(doc)}
    <h2 id="outputs">Outputs</h2>
    ${outputsTable(doc)} ${billing(doc)}
    <h2 id="alerts">Alerts</h2>
    ${table({
      label: 'Alerts of this task',
      columns: ['Kind', 'At', 'Message', 'Delivery'],
      rows: doc.alerts.map((a) => [badge(a.kind), time(a.at), a.message, a.delivery ?? '—']),
      empty: 'No alert.',
    })}
    <h2 id="follow-ups">Follow-ups</h2>
    ${table({
      label: 'Follow-ups',
      columns: ['Name', 'Status', { label: 'Attempts', num: true }, 'Error'],
      rows: doc.followUps.map((f) => [
        html`<span class="mono">${f.name}</span>`,
        badge(f.status),
        f.attempts,
        f.error ?? '',
      ]),
      empty: 'No follow-up yet.',
    })}
    ${
      deps.inbox
        ? html`<h2 id="inbox">Callback inbox</h2>
            ${inboxProblem}${entries ? inboxTable(entries, { label: 'Inbox entries of this task', back: consoleHref(['apps', appId, 'tasks', taskId]), ctx }) : ''}`
        : ''
    }`;
  return { title: `Task ${doc.taskId}`, section: 'tasks', body };
}
