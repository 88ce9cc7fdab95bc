import type { Clock, RealmUrls } from "../domain/index.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { TokenSigner } from "../tokens/token-issuer.js";
import type { RealmTokenVerifier } from "../tokens/token-verifier.js";
import type { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import type { ExternalTokenVerifier } from "../idp/external-token-verifier.js";
import type { ExternalUserResolver } from "../idp/external-users.js";
import type { AuditLog } from "./audit-log.js";
import type { ClientAuthenticator } from "./client-auth.js";
import type { RefreshTokenMinter } from "./refresh-tokens.js";
import type { RevocationCascade } from "./revocations.js";
import type { SessionManager } from "./sessions.js";

/** The collaborators every grant gets through its constructor. */
export interface GrantDeps {
  repository: RealmRepository;
  /** Client authentication (RFC 6749 §2.3); ExplainExchange for a realm admin takes the named client. */
  authenticator: Pick<ClientAuthenticator, "authenticate">;
  /** Signs issued tokens; ExplainExchange only previews their claims. */
  issuer: TokenSigner;
  verifier: RealmTokenVerifier;
  sessions: SessionManager;
  refreshTokens: RefreshTokenMinter;
  revocations: RevocationCascade;
  audit: AuditLog;
  /** Verifies tokens of identity providers. */
  externalTokens: ExternalTokenVerifier;
  /** Maps external identities to realm users. */
  externalUsers: ExternalUserResolver;
  /** Encrypts stored upstream tokens. */
  cipher: MasterKeyCipher;
  clock: Clock;
  urls: (realm: string) => RealmUrls;
}
