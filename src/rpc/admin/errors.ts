import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { formatIssue, type IssuePath, type ValidationIssue } from "../../realm-file/index.js";

/** Realm-file key names that differ from the admin messages' field names. */
const PROTO_NAMES: Readonly<Record<string, string>> = { public: "public_client", jwks: "jwks_json", realm: "name" };

/** A realm-file path as the request field it came from: `client.token_exchange.scope_policy`, `client.default_scopes[1]`. */
export function requestFieldPath(prefix: string, path: IssuePath): string {
  let text = prefix;
  path.forEach((key, i) => {
    if (typeof key === "number") text += `[${key}]`;
    else if (i === 0 && key === "jwks") text += ".jwks_json"; // `jwks.keys[0]` is inside the JSON text
    else if (i > 0 && path[0] === "jwks") text += `.${key}`;
    else text += `.${PROTO_NAMES[key] ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
  });
  return text;
}

/**
 * INVALID_ARGUMENT for a request whose object breaks rules: the message lists them (`client.tokenExchange.scopePolicy:
 * expected ...`, realm-file names), and a `google.rpc.BadRequest` detail carries one field violation per rule,
 * naming the request field (`client.token_exchange.scope_policy`).
 */
export function invalidArgument(prefix: string, issues: readonly ValidationIssue[]): ConnectError {
  const message = issues.map((i) => `${prefix}.${formatIssue(i)}`).join("; ");
  return badRequest(message, issues.map((i) => ({ field: requestFieldPath(prefix, i.path), description: i.message })));
}

/** INVALID_ARGUMENT with a `google.rpc.BadRequest` detail of the given field violations. */
export function badRequest(message: string, violations: { field: string; description: string }[]): ConnectError {
  return new ConnectError(message, Code.InvalidArgument, undefined, [{ desc: BadRequestSchema, value: { fieldViolations: violations } }]);
}

/** INVALID_ARGUMENT naming one request field. */
export function invalidField(field: string, description: string): ConnectError {
  return badRequest(`${field}: ${description}`, [{ field, description }]);
}

/** NOT_FOUND naming what was not found: `client app not found`. */
export function notFound(what: string): ConnectError {
  return new ConnectError(`${what} not found`, Code.NotFound);
}

/** The value of a request field that must not be empty; INVALID_ARGUMENT naming the field if it is. */
export function requiredField(value: string, field: string): string {
  if (value === "") throw invalidField(field, "expected a non-empty string");
  return value;
}
