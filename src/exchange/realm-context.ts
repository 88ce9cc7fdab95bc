import { REALM_NAME_PATTERN, type Realm, type RealmUrls } from "../domain/index.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { AuditDraft } from "./audit-log.js";
import { claimedClientId, type AuthenticatedClient, type PresentedClientCredentials } from "./client-auth.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";

/** A realm that exists and is enabled, with its public URLs. */
export interface RealmContext {
  realm: Realm;
  urls: RealmUrls;
}

/** Loads the realm a request names; an unknown or disabled realm is `not_found`. */
export async function requireRealm(
  repository: RealmRepository,
  urls: (realm: string) => RealmUrls,
  name: string,
): Promise<RealmContext> {
  if (!REALM_NAME_PATTERN.test(name)) throw oauthError.realmNotFound("");
  const realm = await repository.getRealm(name);
  if (!realm?.enabled) throw oauthError.realmNotFound(name);
  return { realm, urls: urls(name) };
}

/** Longest claimed client id written on the audit event of a failed authentication. */
const MAX_AUDITED_CLIENT_ID = 255;

/** A request's realm and its authenticated client. */
export interface AuthenticatedRequest {
  context: RealmContext;
  authenticated: AuthenticatedClient;
  client: AuthenticatedClient["client"];
}

/**
 * The first steps of every token endpoint operation: the realm the request names, then its client
 * authenticated (RFC 6749 §2.3), noted on the audit draft.
 */
export async function authenticateRequest(
  deps: Pick<GrantDeps, "repository" | "urls" | "authenticator">,
  request: { realm: string; credentials: PresentedClientCredentials },
  draft: AuditDraft,
): Promise<AuthenticatedRequest> {
  const context = await requireRealm(deps.repository, deps.urls, request.realm);
  const { sourceAddress } = request.credentials;
  if (sourceAddress !== undefined) draft.sourceAddress = sourceAddress;
  let authenticated: AuthenticatedClient;
  try {
    authenticated = await deps.authenticator.authenticate(context.realm, request.credentials);
  } catch (error) {
    // A failed attempt is audited under the client it claimed to be (bounded: the claim is the caller's).
    const claimed = claimedClientId(request.credentials);
    if (claimed !== "" && claimed.length <= MAX_AUDITED_CLIENT_ID) draft.clientId = claimed;
    throw error;
  }
  draft.clientId = authenticated.client.clientId;
  return { context, authenticated, client: authenticated.client };
}
