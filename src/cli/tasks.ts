/**
 * `tasks show`, `tasks list` (over the service's task queries) and `tasks stop` (through ZEGO's
 * server API, with the UserId and Sequence the service knows for the task).
 */
import type { LifecycleStateDocument } from '../../workflows/definitions';
import type { TaskListItem } from '../http/ports';
import { DEFAULT_ZEGO_API_BASE_URL, isTaskNotFound, ZegoApiClient, ZegoApiError } from '../zego/api-client';
import {
  CliError,
  enc,
  EXIT_OK,
  EXIT_USAGE,
  expectArgs,
  printJson,
  renderFields,
  renderTable,
  replyError,
  serviceClient,
  stringOption,
  usageError,
  type Command,
  type CommandContext,
  type ServiceClient,
} from './common';

const STATUSES = ['awaiting_start', 'running', 'stopped', 'aborted', 'orphaned', 'stale'];

/** The latest lifecycle of a task; 404 and 409 (several apps) become clear errors. */
export async function fetchTask(
  client: ServiceClient,
  taskId: string,
  appId: string | undefined,
): Promise<LifecycleStateDocument> {
  const reply = await client.get(
    appId ? `/apps/${enc(appId)}/tasks/${enc(taskId)}` : `/tasks/${enc(taskId)}`,
  );
  if (reply.status === 200) {
    const { ok: _ok, ...doc } = reply.body;
    return doc as unknown as LifecycleStateDocument;
  }
  if (reply.status === 404) {
    throw new CliError(`task ${taskId} not found${appId ? ` in app ${appId}` : ''}`);
  }
  if (reply.status === 409) {
    const apps = Array.isArray(reply.body.apps) ? reply.body.apps.map(String) : [];
    throw new CliError(
      `task ${taskId} exists in several apps: ${apps.join(', ')}`,
      EXIT_USAGE,
      `pass --app <appId>${apps.length > 0 ? `, e.g. --app ${apps[0]}` : ''}`,
    );
  }
  throw replyError(reply, `task ${taskId}`);
}

export function renderTask(doc: LifecycleStateDocument): string {
  const billing = doc.billing ?? { status: 'pending' };
  const billingSummary =
    billing.status === 'finalized'
      ? `finalized: ${billing.billableMinutes ?? 0} min, ${billing.totalCost ?? 0} ${billing.currency ?? 'CNY'}` +
        (billing.revision ? ` (amended at ${billing.amendedAt ?? '?'}, revision ${billing.revision})` : '')
      : billing.status;
  const outputs = (doc.outputs ?? [])
    .map((o) => {
      const size = o.Width !== undefined || o.Height !== undefined ? ` ${o.Width ?? 0}x${o.Height ?? 0}` : '';
      return `${o.StreamId ?? o.StreamUrl ?? '?'}${size}`;
    })
    .join(', ');
  let text = renderFields([
    ['Task', doc.taskId],
    ['App', doc.appId],
    ['User', doc.userId],
    [
      'Status',
      doc.stopReason !== null && doc.stopReason !== undefined
        ? `${doc.status} (stop reason ${doc.stopReason})`
        : doc.status,
    ],
    ['Started', doc.startedAt],
    ['Stopped', doc.stoppedAt],
    [
      'Duration',
      doc.durationSeconds !== null && doc.durationSeconds !== undefined ? `${doc.durationSeconds} s` : null,
    ],
    ['Input', doc.input?.StreamId ?? doc.input?.StreamUrl],
    ['Outputs', outputs],
    ['Billing', billingSummary],
    ['Cleanup', doc.cleanup?.status],
    ['Max sequence', doc.maxSequence],
    ['Lifecycle', `${doc.lifecycleId} (${doc.closed ? 'closed' : 'open'})`],
    ['Workflow', `${doc.workflowId} run ${doc.runId}`],
  ]);
  if (billing.lines && billing.lines.length > 0) {
    text += `\nBilling lines (${billing.currency ?? 'CNY'})\n`;
    text += renderTable(
      ['TIER', 'SECONDS', 'MINUTES', 'COST'],
      billing.lines.map((l) => [l.tier, l.seconds, l.minutes, l.cost]),
      '  ',
    );
  }
  text += `\nEvents\n`;
  text += renderTable(
    ['EVENT', 'STATUS', 'SEQ', 'TIMESTAMP', 'RECEIVED', 'DELIVERIES'],
    (doc.events ?? []).map((e) => [e.event, e.status, e.sequence, e.timestamp, e.receivedAt, e.deliveries]),
    '  ',
  );
  if (doc.alerts && doc.alerts.length > 0) {
    text += `\nAlerts\n`;
    // The RESOLVED column only once an alert has one (a stale task's own stop resolves stale_task).
    const resolved = doc.alerts.some((a) => a.resolvedAt);
    text += renderTable(
      ['KIND', 'AT', 'DELIVERY', ...(resolved ? ['RESOLVED'] : []), 'MESSAGE'],
      doc.alerts.map((a) => [a.kind, a.at, a.delivery, ...(resolved ? [a.resolvedAt ?? ''] : []), a.message]),
      '  ',
    );
  }
  return text;
}

const show: Command = {
  name: 'tasks show',
  summary: 'the latest lifecycle of a task (state, billing, events, alerts)',
  help: `Usage: zego-transcode tasks show <taskId> [--app <appId>] [--json] [--url <url>]

Prints the state document of the task's latest lifecycle. Without --app the TaskId must be
unique across apps (otherwise the apps are listed: pass --app).
`,
  options: { app: { type: 'string' } },
  async run(ctx: CommandContext) {
    const [taskId] = expectArgs(ctx, ['<taskId>']);
    const client = serviceClient(ctx.values, ctx.io.env);
    const doc = await fetchTask(client, taskId, stringOption(ctx.values, 'app'));
    if (ctx.json) printJson(ctx.io, doc);
    else ctx.io.stdout(renderTask(doc));
    return EXIT_OK;
  },
};

const list: Command = {
  name: 'tasks list',
  summary: 'lifecycles through Temporal visibility, newest first',
  help: `Usage: zego-transcode tasks list [--status <status>] [--app <appId>] [--limit <n>] [--json] [--url <url>]

Statuses: ${STATUSES.join(', ')}. Visibility is eventually consistent: a change can take a
moment to show.
`,
  options: { app: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' } },
  async run(ctx: CommandContext) {
    expectArgs(ctx, []);
    const status = stringOption(ctx.values, 'status');
    if (status !== undefined && !STATUSES.includes(status)) {
      throw usageError(`--status ${JSON.stringify(status)} is not one of ${STATUSES.join(', ')}`);
    }
    const limit = stringOption(ctx.values, 'limit');
    if (limit !== undefined && !/^[1-9]\d*$/.test(limit)) {
      throw usageError(`--limit ${JSON.stringify(limit)} is not a positive whole number`);
    }
    const query = new URLSearchParams();
    if (status) query.set('status', status);
    const app = stringOption(ctx.values, 'app');
    if (app) query.set('appId', app);
    if (limit) query.set('limit', limit);
    const client = serviceClient(ctx.values, ctx.io.env);
    const qs = query.toString();
    const reply = await client.get(`/tasks${qs ? `?${qs}` : ''}`);
    if (reply.status !== 200) throw replyError(reply, 'listing tasks');
    const tasks = (Array.isArray(reply.body.tasks) ? reply.body.tasks : []) as TaskListItem[];
    if (ctx.json) {
      printJson(ctx.io, tasks);
      return EXIT_OK;
    }
    if (tasks.length === 0) {
      ctx.io.stdout('no tasks\n');
      return EXIT_OK;
    }
    ctx.io.stdout(
      renderTable(
        ['APP', 'TASK', 'USER', 'STATUS', 'EXECUTION', 'STARTED', 'CLOSED'],
        tasks.map((t) => [
          t.appId,
          t.taskId,
          t.userId,
          t.status,
          t.executionStatus,
          t.startTime,
          t.closeTime,
        ]),
      ),
    );
    return EXIT_OK;
  },
};

const stop: Command = {
  name: 'tasks stop',
  summary: "stop a task through ZEGO's StopCloudTranscode",
  help: `Usage: zego-transcode tasks stop <taskId> [--app <appId>] [--json] [--url <url>]

Looks the task up in the service (its UserId and highest Sequence), then calls ZEGO's
StopCloudTranscode with Sequence = maxSequence + 1. ZEGO then sends transcode_stop, which the
service handles like any other stop.

Environment: ZEGO_APP_ID and ZEGO_SERVER_SECRET (required), ZEGO_API_BASE_URL (default
${DEFAULT_ZEGO_API_BASE_URL}). --app defaults to ZEGO_APP_ID and must equal it.
`,
  options: { app: { type: 'string' } },
  async run(ctx: CommandContext) {
    const [taskId] = expectArgs(ctx, ['<taskId>']);
    const { env } = ctx.io;
    const zegoAppId = env.ZEGO_APP_ID?.trim();
    const serverSecret = env.ZEGO_SERVER_SECRET?.trim();
    const missing = [!zegoAppId && 'ZEGO_APP_ID', !serverSecret && 'ZEGO_SERVER_SECRET'].filter(Boolean);
    if (!zegoAppId || !serverSecret) {
      throw usageError(`tasks stop needs ZEGO's server API credentials: set ${missing.join(' and ')}`);
    }
    const app = stringOption(ctx.values, 'app') ?? zegoAppId;
    if (app !== zegoAppId) {
      throw usageError(
        `--app ${app} differs from ZEGO_APP_ID ${zegoAppId}: a task can only be stopped with its own app's credentials`,
      );
    }
    let api: ZegoApiClient;
    try {
      api = new ZegoApiClient({
        appId: zegoAppId,
        serverSecret,
        baseUrl: env.ZEGO_API_BASE_URL?.trim() || DEFAULT_ZEGO_API_BASE_URL,
      });
    } catch (err) {
      throw usageError(`cannot use ZEGO's API: ${err instanceof Error ? err.message : String(err)}`);
    }

    const client = serviceClient(ctx.values, env);
    const doc = await fetchTask(client, taskId, app);
    if (!doc.userId) {
      throw new CliError(
        `task ${taskId} has no UserId in the service (no callback carried one): cannot stop it`,
      );
    }
    if (!['running', 'stale', 'awaiting_start'].includes(doc.status)) {
      ctx.io.stderr(
        `note: the service already saw this lifecycle end (status ${doc.status}); asking ZEGO anyway\n`,
      );
    }
    const sequence = (Number.isSafeInteger(doc.maxSequence) ? doc.maxSequence : 0) + 1;
    let requestId: string;
    try {
      ({ requestId } = await api.stopCloudTranscode({
        TaskId: taskId,
        UserId: doc.userId,
        Sequence: sequence,
      }));
    } catch (err) {
      if (isTaskNotFound(err)) {
        throw new CliError(
          `ZEGO does not know task ${taskId} in app ${app} (task not found, Code 110209001): it has already stopped, or never ran under these credentials`,
        );
      }
      if (err instanceof ZegoApiError) throw new CliError(err.message);
      throw err;
    }
    const result = { ok: true, appId: app, taskId, userId: doc.userId, sequence, requestId };
    if (ctx.json) printJson(ctx.io, result);
    else
      ctx.io.stdout(
        `ZEGO accepted StopCloudTranscode for task ${taskId} (app ${app}, user ${doc.userId}, sequence ${sequence}, RequestId ${requestId || '-'}).\n` +
          `ZEGO now sends transcode_stop; follow it with: zego-transcode tasks show ${taskId} --app ${app}\n`,
      );
    return EXIT_OK;
  },
};

export const taskCommands: Command[] = [show, list, stop];
