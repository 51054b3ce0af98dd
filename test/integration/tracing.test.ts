/**
 * OpenTelemetry tracing end to end, in-process: spans go to an in-memory exporter through the very
 * setup the entry points use (startTracing). A signed start and stop, then one trace per callback:
 * the stop's HTTP span, its SignalWithStartWorkflow client span, the workflow's spans (signal,
 * StartActivity) and the finalizeBilling activity span all share the stop's trace id.
 *
 * The workflow interceptors are in a tracing worker's bundle only: histories recorded without them
 * (tracing off, or lifecycles running when it was turned on) must replay with them, and the other
 * way round, so tracing can be turned on and off without draining.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import { startTracing, workerTracing, type Tracing } from '../../src/telemetry';
import { startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import { transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';

/** A start and a stop, until the lifecycle has closed; its history. */
async function closedLifecycleHistory(svc: TestService) {
  const { appId, taskId } = uniqueTask('replay');
  const now = Number(zegoTime());
  const ids = { Appid: appId, TaskId: taskId };
  expect((await svc.post(transcodeStart({ ...ids, Sequence: 0, Timestamp: String(now - 60) }))).status).toBe(
    200,
  );
  const stop = await svc.post(transcodeStop({ ...ids, Sequence: 1, Timestamp: String(now) }));
  expect(stop.status).toBe(200);
  await svc.waitForTask(appId, taskId, (d) => d.closed);
  return svc.http.client.workflow.getHandle(stop.json.workflowId as string).fetchHistory();
}

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let svc: TestService;

  beforeAll(async () => {
    tracing = startTracing('zego-transcode-test', {}, { exporter })!;
    svc = await startTestService({ database: 'embedded', tracing });
  });
  afterAll(async () => {
    await svc?.stop();
    await tracing?.shutdown();
  });

  /** Polls the exported spans until `find` returns something. */
  async function spansUntil<T>(what: string, find: (spans: ReadableSpan[]) => T | undefined): Promise<T> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const found = find(exporter.getFinishedSpans());
      if (found !== undefined) return found;
      await sleep(100);
    }
    const names = exporter.getFinishedSpans().map((s) => `${s.name} ${s.spanContext().traceId}`);
    throw new Error(`no ${what} among the exported spans:\n${names.join('\n')}`);
  }

  it('links the stop callback, its hand-off, the workflow and finalizeBilling in one trace', async () => {
    const { appId, taskId } = uniqueTask('traced');
    const now = Number(zegoTime());
    const ids = { Appid: appId, TaskId: taskId };
    expect(
      (await svc.post(transcodeStart({ ...ids, Sequence: 0, Timestamp: String(now - 60) }))).status,
    ).toBe(200);
    const stop = await svc.post(transcodeStop({ ...ids, Sequence: 1, Timestamp: String(now) }));
    expect(stop.json).toMatchObject({ ok: true, outcome: 'accepted' });
    const workflowId = stop.json.workflowId as string;
    await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    expect((await svc.get('/healthz')).status).toBe(200);

    const requestSpan = (event: string) =>
      spansUntil(`HTTP span of ${event}`, (spans) =>
        spans.find(
          (s) =>
            s.kind === SpanKind.SERVER &&
            s.attributes['zego.task_id'] === taskId &&
            s.attributes['zego.event'] === event,
        ),
      );
    const startHttp = await requestSpan('transcode_start');
    const stopHttp = await requestSpan('transcode_stop');
    expect(stopHttp.name).toBe('POST /zego/callback');
    expect(stopHttp.attributes).toMatchObject({
      'zego.app_id': appId,
      'zego.task_id': taskId,
      'zego.event': 'transcode_stop',
      'temporal.workflow_id': workflowId,
      'http.route': '/zego/callback',
      'http.response.status_code': 200,
    });
    expect(stopHttp.resource.attributes['service.name']).toBe('zego-transcode-test');
    const traceId = stopHttp.spanContext().traceId;
    expect(startHttp.spanContext().traceId).not.toBe(traceId);

    const inTrace = (name: string, id = traceId) =>
      spansUntil(`${name} in trace ${id}`, (spans) =>
        spans.find((s) => s.name === name && s.spanContext().traceId === id),
      );
    const clientSpan = await inTrace('SignalWithStartWorkflow:transcodeLifecycle');
    expect(clientSpan.parentSpanId).toBe(stopHttp.spanContext().spanId);
    expect(clientSpan.attributes.temporalWorkflowId).toBe(workflowId);

    const signalSpan = await inTrace('HandleSignal:zegoCallback');
    expect(signalSpan.parentSpanId).toBe(clientSpan.spanContext().spanId);
    const scheduled = await inTrace('StartActivity:finalizeBilling');
    expect(scheduled.parentSpanId).toBe(signalSpan.spanContext().spanId);
    const billing = await inTrace('RunActivity:finalizeBilling');
    expect(billing.parentSpanId).toBe(scheduled.spanContext().spanId);
    expect(billing.attributes.temporalWorkflowId).toBe(workflowId);
    await inTrace('RunActivity:cleanupTask');

    // The start's own trace: it started the workflow run and registered the task.
    const startTrace = startHttp.spanContext().traceId;
    await inTrace('RunWorkflow:transcodeLifecycle', startTrace);
    await inTrace('RunActivity:registerActiveTask', startTrace);
    // Probes are not traced.
    expect(exporter.getFinishedSpans().filter((s) => s.attributes['url.path'] === '/healthz')).toEqual([]);
    expect(
      exporter
        .getFinishedSpans()
        .filter(
          (s) => s.name === 'RunActivity:finalizeBilling' && s.attributes.temporalWorkflowId === workflowId,
        )
        .map((s) => s.spanContext().traceId),
    ).toEqual([traceId]);
  });

  it('replays histories recorded without the workflow interceptors, and the other way round', async () => {
    const plainBundle = process.env.TEST_WORKFLOW_BUNDLE!;
    const tracingBundle = process.env.TEST_WORKFLOW_BUNDLE_TRACING!;
    let plain: TestService | undefined;
    try {
      // The bundle of a worker with tracing off: no workflow interceptor modules.
      plain = await startTestService({ database: 'embedded', workflowBundlePath: plainBundle });
      const [untracedHistory, tracedHistory] = await Promise.all([
        closedLifecycleHistory(plain),
        closedLifecycleHistory(svc),
      ]);
      const { sinks } = workerTracing(null);
      await Worker.runReplayHistory({ workflowBundle: { codePath: tracingBundle }, sinks }, untracedHistory);
      await Worker.runReplayHistory({ workflowBundle: { codePath: plainBundle } }, tracedHistory);
    } finally {
      await plain?.stop();
    }
  });
});
