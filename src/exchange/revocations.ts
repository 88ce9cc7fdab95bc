import type { Clock } from "../domain/index.js";
import type { RealmRepository } from "../storage/realm-repository.js";

/** Upper bound on the tokens one revocation cascades to, against a runaway lineage. */
const MAX_CASCADE = 10_000;

/**
 * Revokes a token and, through the recorded lineage, every token exchanged or refreshed from it,
 * so a leaked parent cannot live on in its children (RFC 7009 §2.1 "SHOULD also invalidate").
 * Each revocation lasts until the token would have expired, and no longer.
 */
export class RevocationCascade {
  constructor(
    private readonly repository: RealmRepository,
    private readonly clock: Clock,
  ) {}

  /** Revokes `jti` (valid until `expiresAt`) and its descendants; returns how many tokens were revoked. */
  async revoke(realm: string, jti: string, expiresAt: Date): Promise<number> {
    const seen = new Set<string>([jti]);
    const queue = [{ jti, expiresAt }];
    while (queue.length > 0 && seen.size <= MAX_CASCADE) {
      const next = queue.shift();
      if (!next) break;
      await this.repository.revokeToken(realm, next.jti, next.expiresAt);
      for (const child of await this.repository.listChildTokens(realm, next.jti, this.clock.now())) {
        if (seen.has(child.childJti)) continue;
        seen.add(child.childJti);
        queue.push({ jti: child.childJti, expiresAt: child.expiresAt });
      }
    }
    return seen.size;
  }
}
