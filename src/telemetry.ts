/**
 * Optional OpenTelemetry tracing, the one place it is set up. Off unless the standard variables ask
 * for it: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP over HTTP) or
 * `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`, comma-separated).
 *
 * One trace per callback, end to end:
 *   HTTP server span (`POST /zego/callback`, with zego.* attributes; traceRequests below)
 *   └ SignalWithStartWorkflow:transcodeLifecycle       client interceptor: context → Temporal headers
 *     └ HandleSignal:zegoCallback                      workflow interceptors (workflows/tracing.ts)
 *       └ StartActivity:finalizeBilling, …             activities the callback led to
 *         └ RunActivity:finalizeBilling, …             activity interceptor, in the worker process
 * Workflow spans are made inside the workflow sandbox and reach the exporter through a sink.
 *
 * No monkey-patching: the server span comes from a request-listener wrapper (traceRequests), the
 * Temporal spans from interceptors, so nothing depends on the order modules are loaded in. (Express 5
 * has no instrumentation on the OpenTelemetry 1.x line that Temporal's interceptors require, and
 * require-hook instrumentation of node:http does not reach code loaded by jest.)
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ClientInterceptors } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { ConfigError, type Env } from './config';
import type { Logger } from './logger';

export type TracesExporterName = 'otlp' | 'console';

export interface Tracing {
  readonly serviceName: string;
  readonly tracer: Tracer;
  /** Every finished span goes here, the workflow sandbox's too (through the worker's sink). */
  readonly spanProcessor: SpanProcessor;
  readonly resource: Resource;
  /** Exports what is pending and unregisters the global provider; never rejects. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Export to this instead of what the environment says, span by span (tests: InMemorySpanExporter). */
  exporter?: SpanExporter;
  /** Where the SDK's own warnings and errors go (a collector that cannot be reached, spans dropped). */
  logger?: Logger;
}

const TRACER_NAME = 'zego-transcode-lifecycle';

/** Which exporters the environment asks for; none = tracing off. Throws ConfigError on a bad value. */
export function tracesExporters(env: Env): TracesExporterName[] {
  if (['true', '1'].includes(env.OTEL_SDK_DISABLED?.trim().toLowerCase() ?? '')) return [];
  const raw = env.OTEL_TRACES_EXPORTER?.trim();
  if (!raw) return otlpEndpointVariable(env) ? ['otlp'] : [];
  const names = [
    ...new Set(
      raw
        .split(',')
        .map((name) => name.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
  const unknown = names.filter((name) => !['otlp', 'console', 'none'].includes(name));
  if (unknown.length > 0) {
    throw new ConfigError([
      {
        variable: 'OTEL_TRACES_EXPORTER',
        message: `${JSON.stringify(raw)}: unsupported exporter ${unknown.join(', ')} (use otlp, console or none)`,
      },
    ]);
  }
  return names.includes('none') ? [] : (names as TracesExporterName[]);
}

/**
 * Starts tracing for this process when the environment asks for it (else null, and nothing is
 * registered). Entry points call it before they make any connection or server (nothing needs it
 * earlier: no module is patched on load) and `shutdown()` on exit so the last spans are exported.
 */
export function startTracing(serviceName: string, env: Env, opts: TracingOptions = {}): Tracing | null {
  const exporters: SpanExporter[] = opts.exporter
    ? [opts.exporter]
    : tracesExporters(env).map((name) =>
        name === 'console' ? new ConsoleSpanExporter() : otlpExporter(env),
      );
  if (exporters.length === 0) return null;

  const name = env.OTEL_SERVICE_NAME?.trim() || serviceName;
  // The SDK's defaults (telemetry.sdk.*), the service name, then OTEL_RESOURCE_ATTRIBUTES.
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': name }))
    .merge(envDetectorSync.detect());
  const provider = new NodeTracerProvider({
    resource,
    mergeResourceWithDefaults: false,
    spanProcessors: exporters.map((exporter) =>
      opts.exporter || exporter instanceof ConsoleSpanExporter
        ? new SimpleSpanProcessor(exporter)
        : new BatchSpanProcessor(exporter),
    ),
  });
  // Global: Temporal's interceptors propagate through the global context manager and propagator
  // (AsyncLocalStorage, W3C trace context).
  provider.register();
  const log = opts.logger?.child({ component: 'opentelemetry' });
  if (log) {
    const write =
      (level: 'warn' | 'error') =>
      (message: string, ...args: unknown[]) =>
        log[level]({ details: args.map((arg) => (arg instanceof Error ? arg.message : arg)) }, message);
    diag.setLogger(
      { error: write('error'), warn: write('warn'), info: () => {}, debug: () => {}, verbose: () => {} },
      DiagLogLevel.WARN,
    );
  }
  return {
    serviceName: name,
    tracer: provider.getTracer(TRACER_NAME),
    spanProcessor: provider.getActiveSpanProcessor(),
    resource,
    async shutdown() {
      try {
        await provider.shutdown();
      } catch (err) {
        // Never fails the process: the spans are lost, which is said.
        log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'last spans not exported');
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
        if (log) diag.disable();
      }
    },
  };
}

/** OTLP over HTTP: http/protobuf (the OpenTelemetry default) or http/json. */
function otlpExporter(env: Env): SpanExporter {
  const protocolVariable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim()
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = env[protocolVariable]?.trim() || 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new ConfigError([
      { variable: protocolVariable, message: `${JSON.stringify(protocol)}: use http/protobuf or http/json` },
    ]);
  }
  const url = otlpTracesUrl(env);
  const config = url ? { url } : {};
  return protocol === 'http/json' ? new OTLPJsonTraceExporter(config) : new OTLPProtoTraceExporter(config);
}

function otlpEndpointVariable(env: Env): string | undefined {
  return ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'].find((name) =>
    env[name]?.trim(),
  );
}

/** The traces URL: the TRACES variable as it is, the generic one + /v1/traces (OTLP's rules). */
function otlpTracesUrl(env: Env): string | undefined {
  const variable = otlpEndpointVariable(env);
  if (!variable) return undefined; // the exporter's default, http://localhost:4318/v1/traces
  const raw = env[variable]!.trim();
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new ConfigError([
      { variable, message: `${JSON.stringify(raw)} is not an http(s) URL (e.g. http://collector:4318)` },
    ]);
  }
  if (variable === 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') return url.toString();
  return `${raw.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Wraps the HTTP server's request listener: one SERVER span per request, the active span while
 * the request is handled (a W3C `traceparent` header, if any, is its parent). Named by the Express
 * route that handled it (`POST /zego/callback`), never by the raw URL. Requests for `untracedPaths`
 * (probes, scrapes) get none.
 */
export function traceRequests(
  tracing: Tracing,
  listener: RequestListener,
  untracedPaths: readonly string[] = [],
): RequestListener {
  const untraced = new Set(untracedPaths);
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (untraced.has(path)) {
      listener(req, res);
      return;
    }
    const method = req.method ?? 'GET';
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracing.tracer.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': method,
          'url.path': path,
          'url.scheme': 'http',
          ...(req.socket.remoteAddress ? { 'client.address': req.socket.remoteAddress } : {}),
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    // Listeners of the request and response (body reader, 'finish') run in the request's context too.
    context.bind(active, req);
    context.bind(active, res);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const matched = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };
      if (typeof matched.route?.path === 'string') {
        const route = `${matched.baseUrl ?? ''}${matched.route.path}`;
        span.setAttribute('http.route', route);
        span.updateName(`${method} ${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (!res.writableFinished) span.setAttribute('error.type', 'aborted');
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(active, () => listener(req, res));
  };
}

/** Client interceptors: signal-with-start (and queries) carry the active trace context into Temporal. */
export function workflowClientInterceptors(tracing: Tracing): ClientInterceptors {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] };
}

/**
 * What a worker needs: the activity interceptor (a span per activity execution, child of the
 * workflow's StartActivity span) and the sink that exports the workflow sandbox's spans. The
 * workflow interceptors are in a tracing worker's bundle only, but the sink is always registered
 * (a no-op without tracing), so a tracing bundle loaded with tracing off still runs.
 */
export function workerTracing(tracing: Tracing | null | undefined): {
  activityInterceptors: ActivityInterceptorsFactory[];
  sinks: InjectedSinks<OpenTelemetrySinks>;
} {
  if (!tracing) {
    return { activityInterceptors: [], sinks: { exporter: { export: { fn: () => undefined } } } };
  }
  return {
    activityInterceptors: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
