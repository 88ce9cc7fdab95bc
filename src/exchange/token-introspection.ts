import type { AuditDraft } from "./audit-log.js";
import type { PresentedClientCredentials } from "./client-auth.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import { authenticateRequest, type RealmContext } from "./realm-context.js";
import { findToken, type FoundToken } from "./token-lookup.js";

/** An introspection request (RFC 7662 §2.1). */
export interface IntrospectionRequest {
  realm: string;
  credentials: PresentedClientCredentials;
  token?: string;
  tokenTypeHint?: string;
}

/** An introspection answer (RFC 7662 §2.2): `{ active: false }` alone, or the active token's claims. */
export type Introspection =
  | { active: false }
  | {
      active: true;
      tokenType: "Bearer" | "refresh_token";
      sub: string;
      clientId: string;
      scope: string;
      exp: number;
      iat: number;
      aud: string[];
      iss: string;
      jti: string;
      sid?: string;
      act?: Record<string, unknown>;
    };

const INACTIVE: Introspection = { active: false };

/**
 * Token introspection (RFC 7662) for confidential clients: active only for an unexpired,
 * unrevoked token of this realm whose session (if any) is active and, for a refresh token, that
 * has not been rotated. An inactive answer says nothing else.
 */
export class TokenIntrospection {
  constructor(private readonly deps: GrantDeps) {}

  /** Introspects, or throws an {@link OAuthError} for the caller's own mistakes; audited. */
  introspect(request: IntrospectionRequest): Promise<Introspection> {
    return this.deps.audit.around(request.realm, "introspection", (draft) => this.#introspect(request, draft));
  }

  async #introspect(request: IntrospectionRequest, draft: AuditDraft): Promise<Introspection> {
    const { context, client } = await authenticateRequest(this.deps, request, draft);
    // RFC 7662 §2.1: the endpoint is protected; EXCHANGE.md keeps it to confidential clients.
    if (client.publicClient) throw oauthError.unauthorizedClient("public clients may not introspect tokens");
    // RFC 7662 §2.1: token is REQUIRED.
    if (!request.token) throw oauthError.invalidRequest("token is required");
    const found = await findToken(this.deps, context, request.token);
    if (!found) return INACTIVE;
    draft.jtis.push(found.jti);
    const answer = await this.#describe(context, found);
    if (answer.active) draft.subject = answer.sub;
    return answer;
  }

  async #describe(context: RealmContext, found: FoundToken): Promise<Introspection> {
    const { repository, clock } = this.deps;
    const realm = context.realm.name;
    const now = clock.now();
    if (found.expiresAt <= now || (await repository.isTokenRevoked(realm, found.jti))) return INACTIVE;
    if (found.kind === "refresh_token") {
      const { record } = found;
      if (record.usedAt !== undefined || !(await this.deps.sessions.active(realm, record.sessionId))) return INACTIVE;
      return {
        active: true,
        tokenType: "refresh_token",
        sub: record.subject,
        clientId: record.clientId,
        scope: record.scopes.join(" "),
        exp: Math.floor(record.expiresAt.getTime() / 1000),
        iat: Math.floor(record.issuedAt.getTime() / 1000),
        aud: record.audience,
        iss: context.urls.issuer,
        jti: record.jti,
        sid: record.sessionId,
        ...(record.act && { act: record.act }),
      };
    }
    const { claims } = found;
    const sid = typeof claims.sid === "string" ? claims.sid : undefined;
    if (sid !== undefined && !(await this.deps.sessions.active(realm, sid))) return INACTIVE;
    return {
      active: true,
      tokenType: "Bearer",
      sub: claims.sub,
      clientId: found.clientId ?? "",
      scope: typeof claims.scope === "string" ? claims.scope : "",
      exp: claims.exp,
      iat: claims.iat,
      aud: claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud],
      iss: claims.iss,
      jti: claims.jti,
      ...(sid !== undefined && { sid }),
      ...(typeof claims.act === "object" && claims.act !== null && { act: claims.act as Record<string, unknown> }),
    };
  }
}
