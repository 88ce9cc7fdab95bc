import type { Attributes } from "@opentelemetry/api";
import { GrantType, TokenType } from "../domain/token-types.js";
import type { RequestRecord } from "./request-context.js";
import type { TransportFacts } from "./request-log.js";
import { failSpan } from "./tracing.js";

/** The grant each token RPC performs (by its method's local name, as the RPC implementation names it). */
const GRANT_OF_METHOD = new Map<string, string>([
  ["exchangeToken", GrantType.tokenExchange],
  ["clientCredentials", GrantType.clientCredentials],
  ["refreshToken", GrantType.refreshToken],
]);

/** Health checks (`grpc.health.v1.Health`) are probes: like `/healthz`, not traced. */
export function isTracedRpc(operation: string): boolean {
  return !operation.startsWith("grpc.health.v1.Health/");
}

/** Token type URIs of RFC 8693 §3: only these are recorded, so a span never holds what a caller typed there. */
const KNOWN_TOKEN_TYPES = new Set<string>(Object.values(TokenType));

/** A string field of a message, read without knowing its schema. */
export function stringField(message: unknown, name: string): string {
  const value: unknown = typeof message === "object" && message !== null ? Reflect.get(message, name) : undefined;
  return typeof value === "string" ? value : "";
}

function tokenTypeAttributes(message: unknown, fields: Record<string, string>): Attributes {
  const attributes: Attributes = {};
  for (const [field, attribute] of Object.entries(fields)) {
    const value = stringField(message, field);
    if (value !== "") attributes[attribute] = KNOWN_TOKEN_TYPES.has(value) ? value : "other";
  }
  return attributes;
}

/**
 * Notes on the request's server span what a token RPC was asked and answered: realm, grant type,
 * the token types. Never a token, a secret, a scope or an assertion.
 */
export function noteRpcOnSpan(record: RequestRecord | undefined, method: string, request: unknown, response?: unknown): void {
  const span = record?.span;
  if (span === undefined) return;
  const realm = stringField(request, "realm");
  const grantType = GRANT_OF_METHOD.get(method);
  span.setAttributes({
    ...(realm !== "" && { "tessera.realm": realm }),
    ...(grantType !== undefined && { "oauth.grant_type": grantType }),
    ...tokenTypeAttributes(request, {
      subjectTokenType: "oauth.subject_token_type",
      actorTokenType: "oauth.actor_token_type",
      requestedTokenType: "oauth.requested_token_type",
    }),
    ...tokenTypeAttributes(response, { issuedTokenType: "oauth.issued_token_type" }),
  });
}

/**
 * Ends the request's server span, named after the operation (`package.Service/Method`, or the
 * OAuth endpoint and grant such as `token/token_exchange`), with its surface, HTTP method and
 * status, outcome and error (`tessera.error`: the OAuth error code, a gRPC code name, `aborted`).
 */
export function endRequestSpan(record: RequestRecord, transport: TransportFacts): void {
  const span = record.span;
  if (span === undefined) return;
  span.updateName(record.operation);
  span.setAttributes({
    "tessera.surface": record.surface,
    "tessera.operation": record.operation,
    "tessera.request_id": record.id,
    ...(transport.method !== undefined && { "http.request.method": transport.method }),
    "http.response.status_code": transport.status,
    "network.protocol.version": transport.httpVersion,
  });
  if (record.surface !== "http") {
    const [service, method] = record.operation.split("/");
    span.setAttributes({ "rpc.system": "grpc", ...(method !== undefined && { "rpc.service": service, "rpc.method": method }) });
  }
  if (record.error === undefined) span.setAttribute("tessera.outcome", "ok");
  else {
    span.setAttribute("tessera.error", record.error);
    failSpan(span, record.error);
  }
  span.end();
}
