import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Clock, Realm, RefreshTokenRecord, Session } from "../domain/index.js";
import type { RealmRepository } from "../storage/realm-repository.js";

/** A refresh token as handed to its client, with its stored record. */
export interface MintedRefreshToken {
  token: string;
  record: RefreshTokenRecord;
  /** Seconds until it expires. */
  expiresIn: number;
}

/** What a new refresh token grants. */
export interface RefreshTokenGrant {
  clientId: string;
  subject: string;
  scopes: string[];
  audience: string[];
  act?: Record<string, unknown>;
}

/** SHA-256 of a refresh token, as storage keys it: a 256-bit random token needs no slow hash. */
function refreshTokenHash(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

/** The stored record of a presented refresh token (looked up by its hash), if there is one. */
export function findRefreshTokenRecord(repository: RealmRepository, realm: string, token: string): Promise<RefreshTokenRecord | undefined> {
  return repository.findRefreshToken(realm, refreshTokenHash(token));
}

/** Looks like a refresh token of ours: 43 base64url characters (32 random bytes). */
export function isRefreshTokenShaped(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

/**
 * Mints opaque refresh tokens bound to one client and one session (EXCHANGE.md "Refresh"): 32
 * random bytes, stored only as their hash, expiring with the realm's refresh lifespan or the
 * session's maximum lifetime, whichever comes first.
 */
export class RefreshTokenMinter {
  constructor(
    private readonly repository: RealmRepository,
    private readonly clock: Clock,
  ) {}

  /** Stores and returns a new refresh token for `session`. */
  async mint(realm: Realm, session: Session, grant: RefreshTokenGrant): Promise<MintedRefreshToken> {
    const now = this.clock.now();
    const token = randomBytes(32).toString("base64url");
    const expiresAt = new Date(Math.min(now.getTime() + realm.refreshTokenLifespan * 1000, session.maxExpiresAt.getTime()));
    const record: RefreshTokenRecord = {
      jti: randomUUID(),
      tokenHash: refreshTokenHash(token),
      sessionId: session.id,
      issuedAt: now,
      expiresAt,
      ...grant,
    };
    await this.repository.storeRefreshToken(realm.name, record);
    return { token, record, expiresIn: Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000)) };
  }
}
