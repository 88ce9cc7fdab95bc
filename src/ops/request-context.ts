import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { ConnectError, Code } from "@connectrpc/connect";
import type { Span } from "@opentelemetry/api";
import { toOAuthError } from "../exchange/errors.js";
import { oauthDetailOf } from "../rpc/errors.js";
import { traceLogFields } from "./tracing.js";

/** Which protocol a request arrived with. */
export type Surface = "grpc" | "grpc-web" | "connect" | "http";

/**
 * What is known about one request while it runs: filled in by the layers it passes (the Connect
 * interceptor, the OAuth HTTP adapter), read when the answer is complete for the request log line
 * and the metrics. Every value is bounded: no token, secret, user or raw path segment.
 */
export class RequestRecord {
  /** `x-request-id`: the caller's when it is safe, else a new UUID. */
  readonly id: string;
  readonly startedAt = process.hrtime.bigint();
  surface: Surface = "http";
  /** The RPC (`package.Service/Method`) or the HTTP endpoint (`token/token_exchange`, `certs`...). */
  operation = "unknown";
  /** The OAuth error code (or gRPC code name) of a failure, when one was noted. */
  error: string | undefined;
  /** Probes and scrapes are logged at debug level. */
  quiet = false;
  /** The request's OpenTelemetry server span, when tracing is on (ended with the request log line). */
  span: Span | undefined;

  constructor(id: string) {
    this.id = id;
  }

  /** Notes the OAuth HTTP endpoint served, and the grant of a token request (bounded: unknown grants are `other`). */
  noteEndpoint(endpoint: string, grantType?: string): void {
    this.operation = grantType === undefined ? endpoint : `${endpoint}/${GRANT_LABELS.get(grantType) ?? "other"}`;
  }

  /** Notes a failure: the OAuth error of a ConnectError's detail, else its gRPC code; an OAuthError's code. */
  fail(failure: unknown): void {
    this.error = errorCodeOf(failure);
  }

  /** Seconds since the request started. */
  elapsedSeconds(): number {
    return Number(process.hrtime.bigint() - this.startedAt) / 1e9;
  }
}

/** Grant types (RFC 6749 §4, RFC 8693 §2.1, RFC 7523 §2.1, RFC 8628 §3.4) by their label. */
const GRANT_LABELS = new Map([
  ["authorization_code", "authorization_code"],
  ["client_credentials", "client_credentials"],
  ["password", "password"],
  ["refresh_token", "refresh_token"],
  ["urn:ietf:params:oauth:grant-type:token-exchange", "token_exchange"],
  ["urn:ietf:params:oauth:grant-type:jwt-bearer", "jwt_bearer"],
  ["urn:ietf:params:oauth:grant-type:device_code", "device_code"],
]);

/** The error label of a failure: an OAuth error code, or a gRPC code name such as `invalid_argument`. */
export function errorCodeOf(failure: unknown): string {
  if (failure instanceof ConnectError) return oauthDetailOf(failure)?.error ?? codeName(failure.code);
  return toOAuthError(failure).error.code;
}

/** A gRPC code as its name in the gRPC specification, lower case: `invalid_argument`. */
export function codeName(code: Code): string {
  const name: string | undefined = Code[code];
  return name === undefined ? "unknown" : name.replace(/[A-Z]/g, (c, i: number) => `${i ? "_" : ""}${c.toLowerCase()}`);
}

const storage = new AsyncLocalStorage<RequestRecord>();

/** Runs `fn` with `record` as the current request (see {@link currentRequest}). */
export function runWithRequest<T>(record: RequestRecord, fn: () => T): T {
  return storage.run(record, fn);
}

/** The request being served by the calling code, if any. */
export function currentRequest(): RequestRecord | undefined {
  return storage.getStore();
}

/**
 * Fields every log line written while serving a request carries (pino `mixin`): the request id,
 * and the `trace_id` / `span_id` of the active span when tracing is on.
 */
export function requestLogFields(): { reqId?: string; trace_id?: string; span_id?: string } {
  const record = storage.getStore();
  return { ...(record && { reqId: record.id }), ...traceLogFields() };
}

/** An `x-request-id` Tessera accepts from a caller: 1-128 characters of letters, digits and `._:-`. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is safe to log and echo, else a new UUID. */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === "string" && SAFE_REQUEST_ID.test(header) ? header : randomUUID();
}
