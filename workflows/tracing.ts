/**
 * Workflow interceptors, in a tracing worker's bundle only (`workflowInterceptorModules`;
 * src/temporal/worker.ts says why not in every bundle): Temporal's
 * OpenTelemetry interceptors, plus one rule of ours so a callback's trace reaches what it caused.
 *
 * Temporal's interceptors give the workflow run a span in the trace of the callback that started
 * it, each signal a `HandleSignal:zegoCallback` span in the trace of the callback that sent it, and
 * each activity a `StartActivity:<name>` span whose context the activity receives in its headers.
 * Activities are scheduled by the workflow's main loop, though, which runs in the trace of the
 * first callback only; so activities are scheduled here in the context of the latest callback
 * signal (the stop that settles a lifecycle: its cleanup, billing and alerts are in the stop's
 * trace). A timer-decided outcome (orphaned, stale) follows the latest callback too.
 *
 * The interceptors add no commands; their span ids
 * come from the workflow's seeded Math.random, which the lifecycle itself never draws from (keep it
 * so, or a history recorded without these interceptors could stop replaying), and the SDK's flags
 * keep them from adding yield points when they replay a history recorded without them.
 */
import { context as otelContext, type Context } from '@opentelemetry/api';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { callbackSignal } from './definitions';

export const interceptors: WorkflowInterceptorsFactory = () => {
  // Per workflow execution: the factory is called once for each.
  let callbackContext: Context | undefined;
  const inCallbackTrace = <T>(fn: () => T): T =>
    callbackContext === undefined ? fn() : otelContext.with(callbackContext, fn);
  return {
    inbound: [
      new OpenTelemetryInboundInterceptor(),
      {
        // Inside Temporal's HandleSignal span: that span's context is the one to continue.
        handleSignal(input, next) {
          if (input.signalName === callbackSignal.name) callbackContext = otelContext.active();
          return next(input);
        },
      },
    ],
    outbound: [
      {
        // Around Temporal's StartActivity span, which takes the active context as its parent.
        scheduleActivity: (input, next) => inCallbackTrace(() => next(input)),
        scheduleLocalActivity: (input, next) => inCallbackTrace(() => next(input)),
      },
      new OpenTelemetryOutboundInterceptor(),
    ],
    internals: [new OpenTelemetryInternalsInterceptor()],
  };
};
