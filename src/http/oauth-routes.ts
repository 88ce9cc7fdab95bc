import type { HttpRequest, HttpResponse } from "./node-types.js";
import { OAuthError, oauthError } from "../exchange/errors.js";
import { requireRealm } from "../exchange/realm-context.js";
import type { RealmUrls } from "../domain/index.js";
import type { Logger } from "../ops/logger.js";
import type { TokenExchangeRpc } from "../rpc/token-exchange-service.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { RealmKeyStore } from "../tokens/realm-keys.js";
import { realmMetadata } from "./discovery.js";
import { BodyTooLargeError, MAX_FORM_BYTES, readForm } from "./form.js";
import { sendAdapterError, sendOAuthError } from "./oauth-errors.js";
import { sendJson } from "./responses.js";
import { handleTokenRequest } from "./token-endpoint.js";
import { handleExplainRequest } from "./explain-endpoint.js";
import { currentRequest } from "../ops/request-context.js";
import { handleIntrospection, handleLogout, handleRevocation } from "./token-management-endpoints.js";

/** Collaborators of the OAuth HTTP adapter. */
export interface OAuthRoutesDeps {
  rpc: TokenExchangeRpc;
  repository: RealmRepository;
  keys: RealmKeyStore;
  urls: (realm: string) => RealmUrls;
  log: Logger;
  /** Client certificates are asked for: metadata advertises RFC 8705. */
  mutualTls: boolean;
}

type Endpoint = "token" | "explain" | "introspect" | "revoke" | "logout" | "certs" | "metadata";

/**
 * `/realms/{realm}/{rest}` paths and the endpoint each serves. A Map, not an object literal: a
 * path such as `valueOf` or `__proto__` must find nothing rather than Object.prototype's members.
 */
const ENDPOINTS = new Map<string, Endpoint>(Object.entries({
  "protocol/openid-connect/token": "token",
  "protocol/openid-connect/token/introspect": "introspect",
  "protocol/openid-connect/token/explain": "explain",
  "protocol/openid-connect/revoke": "revoke",
  "protocol/openid-connect/logout": "logout",
  "protocol/openid-connect/certs": "certs",
  ".well-known/openid-configuration": "metadata",
  ".well-known/oauth-authorization-server": "metadata",
}));

const METHODS: Record<Endpoint, string> = { token: "POST", explain: "POST", introspect: "POST", revoke: "POST", logout: "POST", certs: "GET", metadata: "GET" };

/** The form endpoints and the adapter of each. */
const FORM_HANDLERS = {
  token: handleTokenRequest,
  explain: handleExplainRequest,
  introspect: handleIntrospection,
  revoke: handleRevocation,
  logout: handleLogout,
} as const;

/**
 * The OAuth 2.0 HTTP adapter under `/realms/{realm}/`, Keycloak's paths: the token endpoint, the
 * JWKS and the RFC 8414 metadata. Unknown paths and realms are 404 with a JSON error body.
 */
export function createOAuthRoutes(deps: OAuthRoutesDeps): (req: HttpRequest, res: HttpResponse) => void {
  return (req, res) => {
    serve(deps, req, res).catch((error: unknown) => {
      if (res.headersSent) {
        deps.log.error({ err: error }, "failure after the answer was sent");
        res.destroy();
      } else if (error instanceof BodyTooLargeError) {
        sendJson(res, 413, { error: "invalid_request", error_description: `body larger than ${MAX_FORM_BYTES} bytes` }, {
          // HTTP/1.1: the rest of the body was not read, so the connection cannot be reused.
          headers: req.httpVersionMajor === 1 ? { connection: "close" } : {},
        });
      } else {
        currentRequest()?.fail(error);
        sendOAuthError(res, error, deps.log);
      }
    });
  };
}

async function serve(deps: OAuthRoutesDeps, req: HttpRequest, res: HttpResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const match = /^\/realms\/([^/]+)\/(.+)$/.exec(path);
  const endpoint = match ? ENDPOINTS.get(match[2]) : undefined;
  if (!match || !endpoint) {
    req.resume();
    return sendAdapterError(res, new OAuthError("not_found", "no such endpoint"), deps.log);
  }
  if (req.method !== METHODS[endpoint]) {
    req.resume();
    res.setHeader("allow", METHODS[endpoint]);
    return sendJson(res, 405, { error: "invalid_request", error_description: `use ${METHODS[endpoint]}` });
  }
  let realmName: string;
  try {
    realmName = decodeURIComponent(match[1]);
  } catch {
    throw oauthError.realmNotFound("");
  }
  currentRequest()?.noteEndpoint(endpoint);
  if (endpoint !== "certs" && endpoint !== "metadata") {
    const form = await readForm(req);
    currentRequest()?.noteEndpoint(endpoint, form.get("grant_type"));
    return FORM_HANDLERS[endpoint](deps.rpc, realmName, form, req, res);
  }
  const { realm, urls } = await requireRealm(deps.repository, deps.urls, realmName);
  if (endpoint === "certs") {
    await deps.keys.signingKey(realm); // a new realm publishes its key before it signs anything
    return sendJson(res, 200, await deps.keys.jwks(realm.name), { maxAgeSeconds: 60 });
  }
  const scopes = (await deps.repository.listScopes(realm.name)).map((s) => s.name);
  return sendJson(res, 200, realmMetadata(realm, urls, scopes, deps.mutualTls), { maxAgeSeconds: 60 });
}
