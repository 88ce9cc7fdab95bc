import type { Client } from "../domain/index.js";
import type { ValidationIssue } from "./issues.js";
import { publicJwkProblem } from "./jwk.js";
import { isHttpUrl, isResourceUri } from "./uris.js";

/** The rest of the realm a client is checked against. */
export interface ClientValidationContext {
  /** Names of the realm's scopes. */
  scopeNames: ReadonlySet<string>;
  /** Client ids of the realm, this client's included. */
  clientIds: ReadonlySet<string>;
  /** Aliases of the realm's identity providers. */
  providerAliases: ReadonlySet<string>;
  /** Resource URIs of the realm's OTHER clients, each to the client id that holds it. */
  claimedResourceUris: ReadonlyMap<string, string>;
}

/**
 * Checks the rules a client must meet whether it comes from a realm file or an admin request:
 * credentials that fit its kind and authentication methods, public JWKs, absolute URIs, and
 * references to scopes and resource URIs of the rest of the realm. Returns every failed rule,
 * paths relative to the client; empty when the client is valid.
 */
export function validateClient(client: Client, context: ClientValidationContext): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (client.clientId === "") issues.push({ path: ["clientId"], message: "expected a non-empty string" });
  issues.push(...(client.publicClient ? publicClientIssues(client) : confidentialClientIssues(client)));
  issues.push(...jwksIssues(client), ...scopeIssues(client, context.scopeNames));
  issues.push(...resourceUriIssues(client.resourceUris, context.claimedResourceUris));
  const mayAct = client.tokenExchange.mayAct;
  if (mayAct !== undefined && !context.clientIds.has(mayAct)) {
    const message = `expected the client id of a client of the realm, got ${JSON.stringify(mayAct)}`;
    issues.push({ path: ["tokenExchange", "mayAct"], message });
  }
  client.tokenExchange.identityProviders.forEach((alias, i) => {
    if (!context.providerAliases.has(alias)) {
      const message = `expected the alias of an identity provider of the realm, got ${JSON.stringify(alias)}`;
      issues.push({ path: ["tokenExchange", "identityProviders", i], message });
    }
  });
  return issues;
}

/** A public client authenticates with `client_id` alone (RFC 6749 §2.1): it holds no credentials. */
function publicClientIssues(client: Client): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const none = "expected none on a public client";
  if (client.secretHash !== undefined) {
    issues.push({ path: ["secret"], message: `${none}; remove it or the public flag` });
  }
  if (client.jwks !== undefined) issues.push({ path: ["jwks"], message: none });
  if (client.jwksUri !== undefined) issues.push({ path: ["jwksUri"], message: none });
  if (client.authMethods.length > 0) {
    issues.push({ path: ["authMethods"], message: `${none}: a public client authenticates with client_id alone` });
  }
  // EXCHANGE.md, client credentials: only confidential clients have a service account.
  if (client.serviceAccount) issues.push({ path: ["serviceAccount"], message: "expected false on a public client" });
  return issues;
}

/** A confidential client needs a credential for each method it may authenticate with. */
function confidentialClientIssues(client: Client): ValidationIssue[] {
  const hasSecret = client.secretHash !== undefined;
  const hasKeys = client.jwks !== undefined || client.jwksUri !== undefined;
  const hasCertificate = client.tlsClientAuthSubjectDn !== undefined;
  if (!hasSecret && !hasKeys && !hasCertificate) {
    const message = "expected credentials on a confidential client: secret, jwks, jwksUri or tlsClientAuthSubjectDn (or public: true)";
    return [{ path: [], message }];
  }
  const issues: ValidationIssue[] = [];
  if (client.authMethods.length === 0) {
    issues.push({ path: ["authMethods"], message: "expected at least one method on a confidential client" });
  }
  client.authMethods.forEach((method, i) => {
    if (method === "private_key_jwt" && !hasKeys) {
      issues.push({ path: ["authMethods", i], message: "private_key_jwt expects jwks or jwksUri on the client" });
    } else if (method === "tls_client_auth" && !hasCertificate) {
      issues.push({ path: ["authMethods", i], message: "tls_client_auth expects tlsClientAuthSubjectDn on the client" });
    } else if ((method === "client_secret_basic" || method === "client_secret_post") && !hasSecret) {
      issues.push({ path: ["authMethods", i], message: `${method} expects a secret on the client` });
    }
  });
  if (client.jwks !== undefined && client.jwksUri !== undefined) {
    issues.push({ path: ["jwksUri"], message: "expected either jwks or jwksUri, not both" });
  }
  return issues;
}

function jwksIssues(client: Client): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (client.jwks !== undefined) {
    if (client.jwks.keys.length === 0) issues.push({ path: ["jwks", "keys"], message: "expected at least one key" });
    client.jwks.keys.forEach((key, i) => {
      const problem = publicJwkProblem(key);
      if (problem !== undefined) issues.push({ path: ["jwks", "keys", i], message: problem });
    });
  }
  if (client.jwksUri !== undefined && !isHttpUrl(client.jwksUri)) {
    issues.push({ path: ["jwksUri"], message: "expected an absolute http(s) URL" });
  }
  return issues;
}

/** Each scope named exists, and is named once across `defaultScopes` and `optionalScopes`. */
function scopeIssues(client: Client, scopeNames: ReadonlySet<string>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const list of ["defaultScopes", "optionalScopes"] as const) {
    client[list].forEach((name, i) => {
      if (!scopeNames.has(name)) {
        const message = `expected the name of a scope of the realm, got ${JSON.stringify(name)}`;
        issues.push({ path: [list, i], message });
      } else if (seen.has(name)) {
        issues.push({ path: [list, i], message: `expected each scope once, got ${JSON.stringify(name)} again` });
      }
      seen.add(name);
    });
  }
  return issues;
}

/** RFC 8707 §2: a resource is an absolute URI without fragment, and names one client. */
function resourceUriIssues(uris: readonly string[], claimed: ReadonlyMap<string, string>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  uris.forEach((uri, i) => {
    const owner = claimed.get(uri);
    if (!isResourceUri(uri)) {
      issues.push({ path: ["resourceUris", i], message: "expected an absolute URI without fragment" });
    } else if (owner !== undefined) {
      issues.push({
        path: ["resourceUris", i],
        message: `expected a URI no other client holds, got ${JSON.stringify(uri)} of client ${JSON.stringify(owner)}`,
      });
    } else if (uris.indexOf(uri) !== i) {
      issues.push({ path: ["resourceUris", i], message: `expected each URI once, got ${JSON.stringify(uri)} again` });
    }
  });
  return issues;
}
