import type { AuditDraft } from "./audit-log.js";
import type { PresentedClientCredentials } from "./client-auth.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import { authenticateRequest } from "./realm-context.js";
import { findToken } from "./token-lookup.js";

/** A revocation request (RFC 7009 §2.1). */
export interface RevocationRequest {
  realm: string;
  credentials: PresentedClientCredentials;
  token?: string;
  tokenTypeHint?: string;
}

/**
 * Token revocation (RFC 7009): access and refresh tokens, by the client they were issued to. The
 * revocation cascades to every token exchanged or refreshed from the revoked one. Unknown, invalid
 * or expired tokens are answered as success (RFC 7009 §2.2).
 */
export class TokenRevocation {
  constructor(private readonly deps: GrantDeps) {}

  /** Revokes, or throws an {@link OAuthError}; audited. */
  revoke(request: RevocationRequest): Promise<void> {
    return this.deps.audit.around(request.realm, "revocation", (draft) => this.#revoke(request, draft));
  }

  async #revoke(request: RevocationRequest, draft: AuditDraft): Promise<void> {
    const { context, client } = await authenticateRequest(this.deps, request, draft);
    // RFC 7009 §2.1: token is REQUIRED.
    if (!request.token) throw oauthError.invalidRequest("token is required");
    const found = await findToken(this.deps, context, request.token);
    // RFC 7009 §2.2: an invalid token is answered with 200; there is nothing to revoke.
    if (!found) return;
    draft.jtis.push(found.jti);
    // RFC 7009 §2.1: the server verifies that the token was issued to the client making the request.
    if (found.clientId !== client.clientId) throw oauthError.unauthorizedClient("token was not issued to this client");
    await this.deps.revocations.revoke(context.realm.name, found.jti, found.expiresAt);
  }
}
