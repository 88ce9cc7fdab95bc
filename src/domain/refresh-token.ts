/**
 * A refresh token as stored: the token itself is an opaque random string that only its holder
 * has; storage keeps its SHA-256 (`tokenHash`). Bound to one client and one session.
 */
export interface RefreshTokenRecord {
  /** Identifier in lineage, revocation and events (the token is never logged). */
  jti: string;
  tokenHash: string;
  sessionId: string;
  clientId: string;
  /** `sub` of the access tokens it refreshes into. */
  subject: string;
  scopes: string[];
  audience: string[];
  /** `act` of the access tokens it refreshes into. */
  act?: Record<string, unknown>;
  issuedAt: Date;
  expiresAt: Date;
  /** Set when it was exchanged for a new one (rotation); a second use is reuse. */
  usedAt?: Date;
}
