import type { RefreshTokenRecord } from "../domain/index.js";
import { TokenVerificationError, type VerifiedAccessToken } from "../tokens/token-verifier.js";
import type { GrantDeps } from "./grant-deps.js";
import type { RealmContext } from "./realm-context.js";
import { issuedToClient } from "./presented-tokens.js";
import { findRefreshTokenRecord, isRefreshTokenShaped } from "./refresh-tokens.js";

/** A token of the realm, found by introspection or revocation. */
export type FoundToken =
  | { kind: "access_token"; claims: VerifiedAccessToken; jti: string; clientId?: string; expiresAt: Date }
  | { kind: "refresh_token"; record: RefreshTokenRecord; jti: string; clientId: string; expiresAt: Date };

/**
 * Finds what a presented token is: a valid (signed, unexpired) access token of the realm, or a
 * stored refresh token; undefined for anything else. Whether it is still active (revocation,
 * session, rotation) is the caller's question.
 */
export async function findToken(deps: Pick<GrantDeps, "verifier" | "repository">, context: RealmContext, token: string): Promise<FoundToken | undefined> {
  if (isRefreshTokenShaped(token)) {
    const record = await findRefreshTokenRecord(deps.repository, context.realm.name, token);
    return record && { kind: "refresh_token", record, jti: record.jti, clientId: record.clientId, expiresAt: record.expiresAt };
  }
  try {
    const claims = await deps.verifier.verifyAccessToken(context.realm.name, context.urls.issuer, token);
    return { kind: "access_token", claims, jti: claims.jti, clientId: issuedToClient(claims), expiresAt: new Date(claims.exp * 1000) };
  } catch (error) {
    if (error instanceof TokenVerificationError) return undefined;
    throw error;
  }
}
