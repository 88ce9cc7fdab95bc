import { randomUUID } from "node:crypto";
import { epochSeconds, type Client, type Realm, type RefreshTokenRecord, type Session } from "../domain/index.js";
import type { AuditDraft } from "./audit-log.js";
import { confirmationOf, type PresentedClientCredentials } from "./client-auth.js";
import { oauthError, type OAuthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import { authenticateRequest } from "./realm-context.js";
import { findRefreshTokenRecord } from "./refresh-tokens.js";
import { parseScopeParameter } from "./scope-policy.js";
import type { TokenResponse } from "./token-response.js";

/** A refresh request (RFC 6749 §6). */
export interface RefreshTokenRequest {
  realm: string;
  credentials: PresentedClientCredentials;
  refreshToken?: string;
  scope?: string;
}

/** The one description of every dead refresh token, so a client learns nothing about which kind. */
const INVALID = "refresh_token is invalid, expired, revoked or not yours";

/**
 * The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2):
 * each use returns a new refresh token and kills the old one; presenting a dead one again ends
 * its session, and with it every token that carries its `sid`.
 */
export class RefreshTokenGrant {
  constructor(private readonly deps: GrantDeps) {}

  /** Issues new tokens or throws an {@link OAuthError}; audited either way. */
  refresh(request: RefreshTokenRequest): Promise<TokenResponse> {
    return this.deps.audit.around(request.realm, "refresh_token", (draft) => this.#refresh(request, draft));
  }

  async #refresh(request: RefreshTokenRequest, draft: AuditDraft): Promise<TokenResponse> {
    const { repository, clock } = this.deps;
    const { context, authenticated, client } = await authenticateRequest(this.deps, request, draft);
    const { realm, urls } = context;
    // RFC 6749 §6: refresh_token is REQUIRED.
    if (!request.refreshToken) throw oauthError.invalidRequest("refresh_token is required");
    const { record, session } = await this.#usable(realm, client, request.refreshToken, draft);
    const scopes = narrowScopes(record.scopes, parseScopeParameter(request.scope));

    const tokenHash = record.tokenHash;
    // RFC 9700 §4.14.2: rotation; of concurrent uses exactly one wins, the rest are reuse.
    if (!(await repository.markRefreshTokenUsed(realm.name, tokenHash, clock.now()))) {
      throw await this.#reused(realm.name, record, client.clientId);
    }
    await repository.touchSession(realm.name, session.id, clock.now());
    const next = await this.deps.refreshTokens.mint(realm, session, { ...grantOf(record), scopes });
    const jti = randomUUID();
    const iat = epochSeconds(clock.now());
    const exp = iat + realm.accessTokenLifespan;
    for (const child of [{ jti, exp }, { jti: next.record.jti, exp: epochSeconds(next.record.expiresAt) }]) {
      // Revoking the old refresh token revokes what it was refreshed into.
      await repository.recordLineage(realm.name, { parentJti: record.jti, childJti: child.jti, expiresAt: new Date(child.exp * 1000) });
    }
    const scope = scopes.join(" ");
    const signed = await this.deps.issuer.issueAccessToken(realm, urls.issuer, {
      jti,
      sub: record.subject,
      aud: record.audience.length === 1 ? record.audience[0] : record.audience,
      iat,
      exp,
      azp: client.clientId,
      client_id: client.clientId,
      sid: session.id,
      ...(scope && { scope }),
      ...(record.act && { act: record.act }),
      ...confirmationOf(authenticated),
    });
    draft.jtis.push(signed.jti, next.record.jti);
    Object.assign(draft, { scopes, audience: record.audience });
    return {
      accessToken: signed.token,
      tokenType: "Bearer",
      expiresIn: signed.expiresIn,
      scope,
      jti: signed.jti,
      refreshToken: next.token,
      refreshExpiresIn: next.expiresIn,
    };
  }

  /** RFC 9700 §4.14.2: a rotated refresh token presented again ends its session; the refusal to throw. */
  async #reused(realm: string, record: RefreshTokenRecord, clientId: string): Promise<OAuthError> {
    await this.deps.sessions.end(realm, record.sessionId, "refresh_token_reuse", clientId);
    return oauthError.invalidGrant("refresh_token was already used; its session has ended");
  }

  /** The stored record of a live refresh token of this client; a used one is reuse. */
  async #usable(realm: Realm, client: Client, token: string, draft: AuditDraft): Promise<{ record: RefreshTokenRecord; session: Session }> {
    const { repository, sessions, clock } = this.deps;
    const record = await findRefreshTokenRecord(repository, realm.name, token);
    // RFC 6749 §5.2 invalid_grant: unknown, expired, or issued to another client.
    if (!record || record.clientId !== client.clientId || record.expiresAt <= clock.now()) throw oauthError.invalidGrant(INVALID);
    draft.jtis.push(record.jti);
    Object.assign(draft, { subject: record.subject, sessionId: record.sessionId });
    if (record.usedAt !== undefined) throw await this.#reused(realm.name, record, client.clientId);
    if (await repository.isTokenRevoked(realm.name, record.jti)) throw oauthError.invalidGrant(INVALID);
    const session = await sessions.active(realm.name, record.sessionId);
    if (!session) throw oauthError.invalidGrant(INVALID);
    return { record, session };
  }
}

function grantOf(record: RefreshTokenRecord) {
  return { clientId: record.clientId, subject: record.subject, audience: record.audience, ...(record.act && { act: record.act }) };
}

/** RFC 6749 §6: the scope may be narrowed, never widened. */
function narrowScopes(granted: string[], requested: string[] | undefined): string[] {
  if (requested === undefined) return granted;
  for (const scope of requested) {
    // RFC 6749 §6: a scope not originally granted is invalid_scope.
    if (!granted.includes(scope)) throw oauthError.invalidScope(`scope ${scope} was not granted to the refresh token`);
  }
  return requested;
}
