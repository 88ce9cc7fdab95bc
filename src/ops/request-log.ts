import type { HttpRequest, HttpResponse } from "../http/node-types.js";
import type { Logger } from "./logger.js";
import type { TesseraMetrics } from "./metrics.js";
import { codeName, type RequestRecord } from "./request-context.js";
import { endRequestSpan } from "./request-span.js";
import { traceLogFields } from "./tracing.js";

/**
 * Watches the `grpc-status` trailer of a gRPC answer (failures the Connect interceptor does not
 * see, such as a message that does not decode) and notes it on the record.
 */
export function captureGrpcStatus(res: HttpResponse, record: RequestRecord): void {
  const addTrailers = res.addTrailers.bind(res) as (headers: Record<string, string | string[]>) => void;
  res.addTrailers = (headers: Record<string, string | string[]>) => {
    const status = Number(headers["grpc-status"] ?? 0);
    if (status !== 0 && record.error === undefined) record.error = codeName(status);
    addTrailers(headers);
  };
}

/** What a request log line says of the transport the request came by. */
export interface TransportFacts {
  method: string | undefined;
  /** The path, without a query string. */
  path: string;
  httpVersion: string;
  /** The HTTP status answered. */
  status: number;
  remoteAddress: string | undefined;
}

/**
 * Ends a request of the HTTP servers: notes an aborted answer or an HTTP error status, then
 * {@link logRequest}.
 */
export function finishRequest(req: HttpRequest, res: HttpResponse, record: RequestRecord, log: Logger, metrics: TesseraMetrics): void {
  const completed = res.writableFinished;
  if (!completed && record.error === undefined) record.error = "aborted";
  if (completed && res.statusCode >= 400 && record.error === undefined) record.error = `http_${res.statusCode}`;
  const transport = {
    method: req.method,
    path: (req.url ?? "/").split("?")[0],
    httpVersion: req.httpVersion,
    status: res.statusCode,
    remoteAddress: req.socket?.remoteAddress,
  };
  logRequest(record, transport, log, metrics);
}

/**
 * Counts an answered request in the metrics and writes its one structured log line (never a body,
 * a query string or a credential header; request id, protocol, operation, status, OAuth error,
 * duration, and the ids of the request's span when traced), then ends that span.
 */
export function logRequest(record: RequestRecord, transport: TransportFacts, log: Logger, metrics: TesseraMetrics): void {
  const ok = record.error === undefined;
  metrics.observeRequest(record, ok);
  const line = {
    reqId: record.id,
    surface: record.surface,
    operation: record.operation,
    ...transport,
    result: ok ? "ok" : "error",
    ...(record.error !== undefined && { error: record.error }),
    durationMs: Math.round(record.elapsedSeconds() * 1e4) / 10,
    ...traceLogFields(record.span),
  };
  if (record.quiet) log.debug(line, "request");
  else if (transport.status >= 500 || record.error === "internal" || record.error === "server_error") log.warn(line, "request");
  else log.info(line, "request");
  endRequestSpan(record, transport);
}
