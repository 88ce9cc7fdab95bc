import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from "@opentelemetry/api";
import { OAuthError } from "../exchange/errors.js";

/** The instrumentation scope of Tessera's spans. */
const TRACER_NAME = "tessera";

/** Set once the SDK is started: until then no span is ever created (no allocation on the hot path). */
let enabled = false;

/** A started OpenTelemetry SDK: flush and stop it once the server has stopped. */
export interface Tracing {
  /** Exports the spans still buffered, then stops the SDK. */
  shutdown(): Promise<void>;
}

/**
 * Whether the environment asks for traces: an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or `OTEL_TRACES_EXPORTER` naming an exporter; never with
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "").split(",").map((name) => name.trim()).filter((name) => name !== "");
  // The SDK starts no exporter for `none` alone (and the default one for `none` among others).
  if (exporters.length > 0 && exporters.every((name) => name === "none")) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) || exporters.length > 0;
}

/**
 * Starts the OpenTelemetry Node SDK for traces when the process environment asks for them
 * ({@link tracingRequested}); the SDK reads the standard `OTEL_*` variables itself (exporter,
 * protocol, endpoint, headers, sampler, propagators, resource); the service name defaults to
 * `tessera`. Metrics and logs stay Prometheus and pino: no metric reader, no log exporter. When
 * not asked, nothing is loaded and `undefined` is returned.
 */
export async function startTracing(): Promise<Tracing | undefined> {
  const env = process.env;
  if (!tracingRequested(env)) return undefined;
  const [{ NodeSDK }, resources] = await Promise.all([import("@opentelemetry/sdk-node"), import("@opentelemetry/resources")]);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME || "tessera",
    // The SDK's process detector records the command line (`process.command_args`), which may hold a
    // MongoDB URI with its password: the process is described by its pid and runtime instead,
    // unless OTEL_NODE_RESOURCE_DETECTORS chooses the detectors.
    ...(!env.OTEL_NODE_RESOURCE_DETECTORS && {
      resourceDetectors: [resources.envDetector, resources.hostDetector, resources.osDetector, resources.serviceInstanceIdDetector],
      resource: resources.defaultResource().merge(
        resources.resourceFromAttributes({ "process.pid": process.pid, "process.runtime.name": "nodejs", "process.runtime.version": process.versions.node }),
      ),
    }),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  enabled = true;
  return {
    shutdown: async () => {
      enabled = false;
      await sdk.shutdown();
    },
  };
}

/** Reads W3C trace context from the request headers of node's HTTP servers. */
const HEADER_GETTER: TextMapGetter<NodeJS.Dict<string | string[]>> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};

/** The metadata of a gRPC call as a text map: its `get(key)` gives the values. */
export interface MetadataCarrier {
  get(key: string): (string | Buffer)[];
  getMap(): Record<string, unknown>;
}

const METADATA_GETTER: TextMapGetter<MetadataCarrier> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => metadata.get(key).map(String),
};

/**
 * Starts the server span of one request, its parent the caller's `traceparent` (HTTP headers or
 * gRPC metadata), and returns it with the context to run the request in. `undefined` when tracing
 * is off.
 */
export function startServerSpan(
  name: string,
  carrier: { headers: NodeJS.Dict<string | string[]> } | { metadata: MetadataCarrier },
  attributes: Attributes,
): { span: Span; context: Context } | undefined {
  if (!enabled) return undefined;
  const parent =
    "headers" in carrier ? propagation.extract(ROOT_CONTEXT, carrier.headers, HEADER_GETTER) : propagation.extract(ROOT_CONTEXT, carrier.metadata, METADATA_GETTER);
  const span = trace.getTracer(TRACER_NAME).startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Runs `fn` in `started`'s context when there is one, else as it is. */
export function runInSpanContext<T>(started: { context: Context } | undefined, fn: () => T): T {
  return started ? context.with(started.context, fn) : fn();
}

/**
 * Runs `fn` in a child span of the active one (`kind` internal by default): the span ends when `fn`
 * settles, with an error status and `tessera.outcome: error` when it throws (an OAuth error's code
 * as `oauth.error` and `error.type`, else the error's class name; never its message). With tracing
 * off, `fn` runs alone and gets `undefined`. Attribute values must never hold a token, a secret or
 * an assertion.
 */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>, kind = SpanKind.INTERNAL): Promise<T> {
  if (!enabled) return fn(undefined);
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      const result = await fn(span);
      span.setAttribute("tessera.outcome", "ok");
      return result;
    } catch (error) {
      if (error instanceof OAuthError) span.setAttribute("oauth.error", error.code);
      failSpan(span, error instanceof OAuthError ? error.code : error instanceof Error ? error.name : "unknown");
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Starts a child span of the active one, not made active itself (a leaf); `undefined` when tracing
 * is off or no span is active (background work such as readiness checks makes no trace of its own).
 */
export function startLeafSpan(name: string, attributes: Attributes, kind = SpanKind.INTERNAL): Span | undefined {
  return enabled && trace.getActiveSpan() !== undefined ? trace.getTracer(TRACER_NAME).startSpan(name, { kind, attributes }) : undefined;
}

/** Ends a span of {@link startLeafSpan}: ok, or failed with `errorType` (see {@link failSpan}). */
export function endLeafSpan(span: Span | undefined, errorType?: string): void {
  if (span === undefined) return;
  if (errorType === undefined) span.setAttribute("tessera.outcome", "ok");
  else failSpan(span, errorType);
  span.end();
}

/** Marks `span` failed: an error status, `tessera.outcome: error` and `error.type` (a code or class name, never a message). */
export function failSpan(span: Span, errorType: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.setAttributes({ "tessera.outcome": "error", "error.type": errorType });
}

/** The active span, when tracing is on and one is recording. */
export function activeSpan(): Span | undefined {
  return enabled ? trace.getActiveSpan() : undefined;
}

/** `trace_id` and `span_id` of the active span for every log line (pino `mixin`); nothing when none. */
export function traceLogFields(span: Span | undefined = activeSpan()): { trace_id?: string; span_id?: string } {
  const ids = span?.spanContext();
  return ids && trace.isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}
