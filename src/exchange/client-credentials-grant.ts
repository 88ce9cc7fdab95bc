import { epochSeconds } from "../domain/index.js";
import type { AuditDraft } from "./audit-log.js";
import { confirmationOf, type PresentedClientCredentials } from "./client-auth.js";
import { mayActClaim } from "./delegation.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import { authenticateRequest } from "./realm-context.js";
import { grantClientScopes, parseScopeParameter } from "./scope-policy.js";
import { availableAudiences, scopeAudiences } from "./target-policy.js";
import type { TokenResponse } from "./token-response.js";

/** A client credentials request (RFC 6749 §4.4.2). */
export interface ClientCredentialsRequest {
  realm: string;
  credentials: PresentedClientCredentials;
  scope?: string;
}

/**
 * The client credentials grant (RFC 6749 §4.4): a confidential service-account client gets an access
 * token whose `sub` is its service-account user, `aud` the audiences of the granted scopes (or the
 * client itself), and no `sid`.
 */
export class ClientCredentialsGrant {
  constructor(private readonly deps: GrantDeps) {}

  /** Issues the token or throws an {@link OAuthError}; audited either way. */
  grant(request: ClientCredentialsRequest): Promise<TokenResponse> {
    return this.deps.audit.around(request.realm, "client_credentials", (draft) => this.#grant(request, draft));
  }

  async #grant(request: ClientCredentialsRequest, draft: AuditDraft): Promise<TokenResponse> {
    const { repository, issuer, clock } = this.deps;
    const { context, authenticated, client } = await authenticateRequest(this.deps, request, draft);
    const { realm, urls } = context;
    // RFC 6749 §4.4: the client credentials grant is for confidential clients only.
    if (client.publicClient) throw oauthError.unauthorizedClient("public clients may not use client_credentials");
    // RFC 6749 §5.2 unauthorized_client: this client has no service account.
    if (!client.serviceAccount) throw oauthError.unauthorizedClient("client has no service account");
    draft.subject = client.serviceAccountUserId;
    const scopes = grantClientScopes(client, parseScopeParameter(request.scope));
    const audiences = availableAudiences(await scopeAudiences(repository, realm.name, scopes));
    const aud = audiences.size > 0 ? [...audiences] : [client.clientId];
    Object.assign(draft, { scopes, audience: aud });
    const mayAct = await mayActClaim(repository, realm.name, urls.issuer, client);
    const iat = epochSeconds(clock.now());
    const signed = await issuer.issueAccessToken(realm, urls.issuer, {
      sub: client.serviceAccountUserId,
      aud: aud.length === 1 ? aud[0] : aud,
      iat,
      exp: iat + realm.accessTokenLifespan,
      client_id: client.clientId,
      azp: client.clientId,
      ...(scopes.length > 0 && { scope: scopes.join(" ") }),
      ...(mayAct && { may_act: mayAct }),
      ...confirmationOf(authenticated),
    });
    draft.jtis.push(signed.jti);
    return { accessToken: signed.token, tokenType: "Bearer", expiresIn: signed.expiresIn, scope: scopes.join(" "), jti: signed.jti };
  }
}
