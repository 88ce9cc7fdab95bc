import type { Clock, RealmUrls } from "../domain/index.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { TokenIssuer } from "../tokens/token-issuer.js";
import type { RealmTokenVerifier } from "../tokens/token-verifier.js";
import type { ClientAuthenticator } from "./client-auth.js";

/** The collaborators every grant gets through its constructor. */
export interface GrantDeps {
  repository: RealmRepository;
  authenticator: ClientAuthenticator;
  issuer: TokenIssuer;
  verifier: RealmTokenVerifier;
  clock: Clock;
  urls: (realm: string) => RealmUrls;
}
