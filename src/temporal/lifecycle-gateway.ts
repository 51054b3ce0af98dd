/**
 * The server's way into Temporal: signal-with-start for callbacks (the inbox relay's, or the direct
 * hand-off without a database), queries and visibility for task state.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import type { Logger } from 'pino';
import {
  callbackSignal,
  LIFECYCLE_STATUSES,
  LIFECYCLE_WORKFLOW_TYPE,
  lifecycleWorkflowId,
  MEMO_MAX_SEQUENCE,
  searchAttributes,
  stateQuery,
  type CallbackSignalPayload,
  type LifecycleSettings,
  type LifecycleStateDocument,
  type LifecycleStatus,
} from '../../workflows/definitions';
import type { transcodeLifecycle } from '../../workflows/lifecycle';
import { within } from './deadlines';
import {
  TemporalUnavailableError,
  type HandoffOutcome,
  type LifecycleGateway,
  type TaskListItem,
} from '../http/ports';

export interface TemporalGatewayOptions {
  client: Client;
  taskQueue: string;
  settings: LifecycleSettings;
  /** Deadline for Temporal to acknowledge one hand-off (beyond it: 503, ZEGO retries). */
  handoffTimeoutMs: number;
  /** Deadline for queries and visibility calls. */
  queryTimeoutMs?: number;
  logger?: Logger;
}

/** A visibility query literal; Temporal's list filter escapes quotes with a backslash. */
export function queryLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export class TemporalLifecycleGateway implements LifecycleGateway {
  private readonly queryTimeoutMs: number;

  constructor(private readonly opts: TemporalGatewayOptions) {
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 10_000;
  }

  async deliver(
    payload: CallbackSignalPayload,
    workflowId = lifecycleWorkflowId(payload.appId, payload.taskId),
  ): Promise<HandoffOutcome> {
    const deadline = Date.now() + this.opts.handoffTimeoutMs;
    try {
      // REJECT_DUPLICATE: a closed lifecycle is never silently reopened by a late callback.
      const handle = await this.signalWithStart(payload, workflowId, 'REJECT_DUPLICATE', deadline);
      return { kind: 'accepted', workflowId, runId: handle.signaledRunId, newLifecycle: false };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw this.unavailable('hand-off', err);
    }
    // The task's last lifecycle has closed. Only something newer than all it saw opens the next one.
    try {
      const closedMax = await this.closedMaxSequence(workflowId, deadline);
      if (closedMax !== null && payload.sequence <= closedMax)
        return { kind: 'duplicate_after_close', workflowId };
      const handle = await this.signalWithStart(payload, workflowId, 'ALLOW_DUPLICATE', deadline);
      return { kind: 'accepted', workflowId, runId: handle.signaledRunId, newLifecycle: true };
    } catch (err) {
      throw this.unavailable('hand-off', err);
    }
  }

  async getTask(appId: string, taskId: string): Promise<LifecycleStateDocument | null> {
    const handle = this.opts.client.workflow.getHandle<typeof transcodeLifecycle>(
      lifecycleWorkflowId(appId, taskId),
    );
    const deadline = Date.now() + this.queryTimeoutMs;
    try {
      const description = await within(deadline - Date.now(), 'describe', () => handle.describe());
      // A completed lifecycle's result is its final document: no worker needed to read it.
      if (description.status.name === 'COMPLETED') {
        return await within(deadline - Date.now(), 'result', () => handle.result());
      }
      return await within(deadline - Date.now(), 'query', () => handle.query(stateQuery));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw this.unavailable('task query', err);
    }
  }

  async appsForTask(taskId: string): Promise<string[]> {
    const apps = new Set<string>();
    const query = `${searchAttributes.taskId.name} = ${queryLiteral(taskId)}`;
    for (const item of await this.listExecutions(query, 1000)) apps.add(item.appId);
    return [...apps].sort();
  }

  async list(filter: { status?: LifecycleStatus; appId?: string; limit?: number }): Promise<TaskListItem[]> {
    const clauses = [`WorkflowType = '${LIFECYCLE_WORKFLOW_TYPE}'`, `ExecutionStatus != 'ContinuedAsNew'`];
    if (filter.status) clauses.push(`${searchAttributes.status.name} = ${queryLiteral(filter.status)}`);
    if (filter.appId) clauses.push(`${searchAttributes.appId.name} = ${queryLiteral(filter.appId)}`);
    return this.listExecutions(clauses.join(' AND '), filter.limit ?? 100);
  }

  async isReady(timeoutMs = 2_000): Promise<boolean> {
    try {
      await within(timeoutMs, 'getSystemInfo', () =>
        this.opts.client.connection.workflowService.getSystemInfo({}),
      );
      return true;
    } catch {
      return false;
    }
  }

  private signalWithStart(
    payload: CallbackSignalPayload,
    workflowId: string,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' | 'ALLOW_DUPLICATE',
    deadline: number,
  ) {
    return within(deadline - Date.now(), 'signal-with-start', () =>
      this.opts.client.workflow.signalWithStart<typeof transcodeLifecycle, [CallbackSignalPayload]>(
        LIFECYCLE_WORKFLOW_TYPE,
        {
          workflowId,
          taskQueue: this.opts.taskQueue,
          args: [{ appId: payload.appId, taskId: payload.taskId, settings: this.opts.settings }],
          signal: callbackSignal,
          signalArgs: [payload],
          workflowIdReusePolicy,
          typedSearchAttributes: [
            { key: searchAttributes.appId, value: payload.appId },
            { key: searchAttributes.taskId, value: payload.taskId },
          ],
        },
      ),
    );
  }

  /** Highest Sequence the task's closed lifecycle saw (its memo); null if it recorded none. */
  private async closedMaxSequence(workflowId: string, deadline: number): Promise<number | null> {
    const description: WorkflowExecutionDescription = await within(deadline - Date.now(), 'describe', () =>
      this.opts.client.workflow.getHandle(workflowId).describe(),
    );
    const value = description.memo?.[MEMO_MAX_SEQUENCE];
    return typeof value === 'number' ? value : null;
  }

  private async listExecutions(query: string, limit: number): Promise<TaskListItem[]> {
    const items: TaskListItem[] = [];
    const deadline = Date.now() + this.queryTimeoutMs;
    try {
      await within(deadline - Date.now(), 'list', async () => {
        for await (const execution of this.opts.client.workflow.list({
          query,
          pageSize: Math.min(limit, 1000),
        })) {
          const sa = execution.typedSearchAttributes;
          const status = sa.get(searchAttributes.status);
          items.push({
            appId: sa.get(searchAttributes.appId) ?? '',
            taskId: sa.get(searchAttributes.taskId) ?? '',
            userId: sa.get(searchAttributes.userId) ?? '',
            workflowId: execution.workflowId,
            runId: execution.runId,
            status:
              status && (LIFECYCLE_STATUSES as string[]).includes(status)
                ? (status as LifecycleStatus)
                : null,
            executionStatus: execution.status.name,
            startTime: execution.startTime.toISOString(),
            closeTime: execution.closeTime ? execution.closeTime.toISOString() : null,
          });
          if (items.length >= limit) break;
        }
      });
    } catch (err) {
      throw this.unavailable('visibility query', err);
    }
    return items;
  }

  private unavailable(what: string, err: unknown): TemporalUnavailableError {
    const message = err instanceof Error ? err.message : String(err);
    this.opts.logger?.debug({ err: message }, `Temporal ${what} failed`);
    // The cause keeps the gRPC status: the relay tells a refusal from an outage by it.
    return new TemporalUnavailableError(`Temporal ${what} failed: ${message}`, 2, { cause: err });
  }
}
