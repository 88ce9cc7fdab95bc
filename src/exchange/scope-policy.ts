import type { Client, ScopePolicy } from "../domain/index.js";
import { oauthError } from "./errors.js";

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Parses a `scope` parameter into its distinct scope tokens; undefined when the parameter is absent
 * or empty. Throws `invalid_scope` when a token has characters RFC 6749 §3.3 does not allow.
 */
export function parseScopeParameter(scope: string | undefined): string[] | undefined {
  if (scope === undefined || scope.trim() === "") return undefined;
  const tokens = scope.split(" ").filter((t) => t !== "");
  for (const token of tokens) {
    // RFC 6749 §3.3: characters outside the scope-token grammar.
    if (!SCOPE_TOKEN.test(token)) throw oauthError.invalidScope("scope contains characters RFC 6749 §3.3 does not allow");
    // EXCHANGE.md "Refresh": refresh tokens live and die with a session; there are no offline tokens.
    if (token === "offline_access") throw oauthError.invalidScope("offline_access is not supported");
  }
  return [...new Set(tokens)];
}

/** The scopes a client may ever hold: its default and optional scopes. */
function allowedScopes(client: Client): Set<string> {
  return new Set([...client.defaultScopes, ...client.optionalScopes]);
}

/**
 * Client credentials (RFC 6749 §4.4.2, §3.3): the requested scopes, each among the client's default
 * and optional scopes, or the default scopes when none are requested.
 */
export function grantClientScopes(client: Client, requested: string[] | undefined): string[] {
  if (requested === undefined) return [...client.defaultScopes];
  const allowed = allowedScopes(client);
  for (const scope of requested) {
    // RFC 6749 §5.2 invalid_scope: outside what the client was registered for.
    if (!allowed.has(scope)) throw oauthError.invalidScope(`scope ${scope} is not allowed for this client`);
  }
  return requested;
}

/**
 * Token exchange (RFC 8693 §2.1 `scope`): the requested scopes, each among the requester's default
 * and optional scopes, and under `downscope` also in the subject token's scope. Without a `scope`
 * parameter: under `downscope` the subject token's scopes that the requester may hold (a token never
 * gains scope through an exchange), under `requester` the requester's default scopes.
 */
export function grantExchangeScopes(
  requester: Client,
  requested: string[] | undefined,
  subjectScopes: ReadonlySet<string>,
  policy: ScopePolicy,
): string[] {
  if (requested === undefined) {
    if (policy === "requester") return [...requester.defaultScopes];
    const allowed = allowedScopes(requester);
    return [...subjectScopes].filter((s) => allowed.has(s));
  }
  const granted = grantClientScopes(requester, requested);
  if (policy === "downscope") {
    for (const scope of granted) {
      // RFC 8693 §2.1, §5: the exchange must not widen the subject token's scope.
      if (!subjectScopes.has(scope)) throw oauthError.invalidScope(`scope ${scope} is not in the subject token`);
    }
  }
  return granted;
}
