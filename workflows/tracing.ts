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
import { context as otelContext, ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { callbackSignal } from './definitions';

/**
 * The workflow's OpenTelemetry context: the active one while a function runs in `with`, synchronous
 * only (nothing follows an `await`). Temporal's interceptors would register one over an
 * AsyncLocalStorage per workflow, and every enabled AsyncLocalStorage in the workflow thread writes
 * its store onto every promise created there (Node's async hooks), so a worker's memory and time per
 * promise grew with its cache squared (cache 300: 0.78 MiB of workflow heap per cached lifecycle,
 * 0.34 with this one, 0.08 without tracing; a cache of 2,310 crashed the worker, "async hook stack
 * has become corrupted"). Registered first, this one stays:
 * the global context manager is registered once per workflow (the sandbox's globals are per
 * workflow), and Temporal's never runs its AsyncLocalStorage, so never enables it.
 *
 * Synchronous is all the spans need: Temporal's interceptors start a span and inject its context
 * into headers synchronously, and the rule below schedules activities inside `with`. What follows an
 * `await` in the workflow runs in the root context (a continueAsNew from the main loop has no parent
 * span, workflow log lines no trace id).
 */
class SyncContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  // Before Temporal's interceptors are made: theirs would register an AsyncLocalStorage one.
  otelContext.setGlobalContextManager(new SyncContextManager());
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
