import type { AuditDraft } from "./audit-log.js";
import type { PresentedClientCredentials } from "./client-auth.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import { authenticateRequest } from "./realm-context.js";
import { findRefreshTokenRecord } from "./refresh-tokens.js";

/** A logout request: a refresh token of the session to end. */
export interface LogoutRequest {
  realm: string;
  credentials: PresentedClientCredentials;
  refreshToken?: string;
}

/**
 * Logout by a client holding one of the session's refresh tokens (Keycloak's
 * `protocol/openid-connect/logout` with `refresh_token`): the whole session ends, and with it every
 * token carrying its `sid`.
 */
export class Logout {
  constructor(private readonly deps: GrantDeps) {}

  /** Ends the session, or throws an {@link OAuthError}; audited. */
  logout(request: LogoutRequest): Promise<void> {
    return this.deps.audit.around(request.realm, "logout", (draft) => this.#logout(request, draft));
  }

  async #logout(request: LogoutRequest, draft: AuditDraft): Promise<void> {
    const { context, client } = await authenticateRequest(this.deps, request, draft);
    if (!request.refreshToken) throw oauthError.invalidRequest("refresh_token is required");
    const record = await findRefreshTokenRecord(this.deps.repository, context.realm.name, request.refreshToken);
    // RFC 6749 §5.2 invalid_grant: not a refresh token of this client.
    if (!record || record.clientId !== client.clientId) throw oauthError.invalidGrant("refresh_token is invalid or not yours");
    Object.assign(draft, { subject: record.subject, sessionId: record.sessionId });
    draft.jtis.push(record.jti);
    await this.deps.sessions.end(context.realm.name, record.sessionId, "logout", client.clientId);
  }
}
