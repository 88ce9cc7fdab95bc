import { decodeJwt, type JWTPayload } from "jose";
import { allows } from "../admin/admin-access.js";
import { AdminAuthenticationError, type AdminTokenAuthenticator } from "../admin/admin-authenticator.js";
import { TokenType, type Realm } from "../domain/index.js";
import type { AuthenticatedClient, PresentedClientCredentials } from "./client-auth.js";
import { dryRunRepository } from "./dry-run-repository.js";
import { OAuthError, oauthError } from "./errors.js";
import type { TokenExchangeRequest } from "./exchange-parameters.js";
import type { GrantDeps } from "./grant-deps.js";
import { RuleTrace, type RuleStep } from "./rule-trace.js";
import { TokenExchangeGrant } from "./token-exchange-grant.js";
import type { TokenResponse } from "./token-response.js";

/** What ExchangeToken would have answered: the issued token's claims (never the token), or the error. */
export interface ExplainedOutcome {
  issued: boolean;
  error?: string;
  errorDescription?: string;
  /** Claims of the realm token that would be issued (none for a refresh token or a stored provider token). */
  claims?: JWTPayload;
  issuedTokenType?: string;
  tokenType?: string;
  scope?: string;
  /** The response would carry a refresh token. */
  refreshToken: boolean;
}

/** The rule trace of one exchange and its outcome. */
export interface Explanation {
  rules: RuleStep[];
  outcome: ExplainedOutcome;
}

/** Who asks for an explanation: the requesting client itself, or a realm admin. */
export type ExplainCaller = "client" | "admin";

/** Builds the grant collaborators over the given (dry-run) repository; for explain, with a signer that signs nothing. */
export type GrantDepsFactory = (repository: GrantDeps["repository"]) => GrantDeps;

/**
 * A realm admin explains an exchange for the client `client_id` names without its credentials:
 * the client must exist and be enabled, as RFC 6749 §2.3 would require.
 */
function namedClient(repository: GrantDeps["repository"]): GrantDeps["authenticator"] {
  return {
    async authenticate(realm: Realm, presented: PresentedClientCredentials): Promise<AuthenticatedClient> {
      const client = presented.clientId === undefined ? undefined : await repository.getClient(realm.name, presented.clientId);
      if (!client?.enabled) throw oauthError.invalidClient(false, "unknown_client");
      return { client, method: "none" };
    },
  };
}

/**
 * ExplainExchange: runs the one token exchange grant on collaborators whose storage writes are dry
 * runs (see `dryRunRepository`) and records each rule's decision, so the trace and the outcome are
 * those of the real call on the same state, and nothing is issued, stored or revoked. Audited as
 * an `explain` event.
 */
export class ExchangeExplainer {
  readonly #asClient: TokenExchangeGrant;
  readonly #asAdmin: TokenExchangeGrant;

  constructor(
    buildDeps: GrantDepsFactory,
    repository: GrantDeps["repository"],
    private readonly admins: AdminTokenAuthenticator,
  ) {
    const dry = buildDeps(dryRunRepository(repository));
    this.#asClient = new TokenExchangeGrant(dry, "explain");
    this.#asAdmin = new TokenExchangeGrant({ ...dry, authenticator: namedClient(dry.repository) }, "explain");
  }

  /**
   * The caller of an explain request: a realm admin when `authorization` is a bearer token (which
   * must carry `admin` or `admin:{realm}`), else the client, which authenticates as for the exchange.
   */
  async callerOf(authorization: string | undefined, realm: string): Promise<ExplainCaller> {
    if (!authorization || !/^bearer /i.test(authorization)) return "client";
    let scopes: ReadonlySet<string>;
    try {
      ({ scopes } = await this.admins.authenticate(authorization));
    } catch (error) {
      // RFC 6750 §3.1: a refused admin token is an authentication failure.
      if (error instanceof AdminAuthenticationError) throw new OAuthError("invalid_client", `admin token refused: ${error.reason}`);
      throw error;
    }
    // Explaining shows what a client would be issued: the admin scope of the realm is needed.
    if (!allows(scopes, "write", realm)) throw oauthError.unauthorizedClient(`explaining exchanges of realm ${JSON.stringify(realm)} needs an admin scope of it`);
    return "admin";
  }

  /** The trace and outcome of `request`; only unexpected failures (storage down...) are thrown. */
  async explain(request: TokenExchangeRequest, caller: ExplainCaller): Promise<Explanation> {
    const trace = new RuleTrace();
    const grant = caller === "admin" ? this.#asAdmin : this.#asClient;
    try {
      const response = await grant.exchange(request, trace);
      return { rules: trace.steps, outcome: issuedOutcome(response) };
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      return { rules: trace.steps, outcome: { issued: false, error: error.code, errorDescription: error.description, refreshToken: false } };
    }
  }
}

/** The outcome of a dry-run response: the claims of a realm JWT, never a token. */
function issuedOutcome(response: TokenResponse): ExplainedOutcome {
  // A stored upstream token (EXCHANGE.md kind 5) is the provider's: its jti is `alias:user`, its claims are not ours to show.
  const realmJwt = (response.issuedTokenType === TokenType.accessToken || response.issuedTokenType === TokenType.idToken) && !response.jti.includes(":");
  return {
    issued: true,
    ...(realmJwt && { claims: decodeJwt(response.accessToken) }),
    issuedTokenType: response.issuedTokenType,
    tokenType: response.tokenType,
    scope: response.scope,
    refreshToken: response.refreshToken !== undefined,
  };
}
