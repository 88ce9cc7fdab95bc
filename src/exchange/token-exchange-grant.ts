import { randomUUID } from "node:crypto";
import { TokenType, epochSeconds, mayImpersonate, type AuditEventKind, type Client, type IdentityProvider, type Session, type User } from "../domain/index.js";
import type { TokenClaims } from "../tokens/token-issuer.js";
import type { VerifiedAccessToken } from "../tokens/token-verifier.js";
import type { AuditDraft } from "./audit-log.js";
import { confirmationOf } from "./client-auth.js";
import { actClaim, actOf, checkChainDepth, mayActClaim, mayActMatches, type ActClaim } from "./delegation.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import { isIssuedToOrFor, issuedToClient, scopesOf, verifyPresentedToken } from "./presented-tokens.js";
import { authenticateRequest, type RealmContext } from "./realm-context.js";
import { checkProviderPermission, storedProviderToken, subjectProvider, verifyExternalSubject } from "./identity-provider-exchange.js";
import { grantExchangeScopes, parseScopeParameter } from "./scope-policy.js";
import { availableAudiences, resolveAudience, scopeAudiences, scopesForTargets } from "./target-policy.js";
import type { TokenResponse } from "./token-response.js";
import { INTERNAL_TOKEN_TYPES, checkParameters, checkPermissions, parameterInputs, presentedCredentials, requestedTokenType, type TokenExchangeRequest } from "./exchange-parameters.js";
import { checkRule, tokenFingerprint, type RuleTrace } from "./rule-trace.js";

/** Who the issued token is about, and the actor chain and session it carries. */
interface IssuedSubject {
  sub: string;
  act?: ActClaim;
  sid?: string;
  /** A session this exchange started (impersonation). */
  session?: Session;
}

/** A presented token the issued one derives from: revoking it revokes the issued one. */
interface ParentToken {
  parameter: "subject_token" | "actor_token";
  jti: string;
}

/** Everything decided about the token to issue. */
interface Decision {
  client: Client;
  /** Realm tokens it derives from (none for an identity provider's token). */
  parents: ParentToken[];
  /** The issued token expires no later than this (seconds since the epoch). */
  notAfter: number;
  issued: IssuedSubject;
  scopes: string[];
  aud: string[];
  requestedType: string;
  /** `cnf` binding the access token to the client's certificate (RFC 8705 §3.1). */
  confirmation?: { cnf: { "x5t#S256": string } };
}

/**
 * The token exchange grant (RFC 8693): internal to internal (kind 1), impersonation with
 * `requested_subject` (kind 2), delegation with `actor_token` (kind 3), external to internal with an
 * identity provider's token (kind 4) and internal to external with `requested_issuer` (kind 5). The
 * requester must be the client a realm subject (and actor) token was issued to or for (no confused
 * deputy), and must be allowed the identity provider it names.
 */
export class TokenExchangeGrant {
  /**
   * @param deps collaborators; ExplainExchange passes ones whose storage writes are dry runs.
   * @param auditKind the audit event of each call: `explain` for ExplainExchange.
   */
  constructor(
    private readonly deps: GrantDeps,
    private readonly auditKind: AuditEventKind = "token_exchange",
  ) {}

  /** Issues the token or throws an {@link OAuthError}; audited either way. Each rule's decision goes to `trace` when given. */
  exchange(request: TokenExchangeRequest, trace?: RuleTrace): Promise<TokenResponse> {
    return this.deps.audit.around(request.realm, this.auditKind, (draft) => this.#exchange(request, draft, trace));
  }

  async #exchange(request: TokenExchangeRequest, draft: AuditDraft, trace: RuleTrace | undefined): Promise<TokenResponse> {
    const { context, authenticated, client } = await checkRule(
      trace,
      { name: "client_authentication", reference: "RFC 6749 §2.3, EXCHANGE.md: client authentication", inputs: { realm: request.realm, presented: presentedCredentials(request.credentials) } },
      () => authenticateRequest(this.deps, request, draft),
    );
    const confirmation = confirmationOf(authenticated);
    await checkRule(trace, { name: "token_exchange_enabled", reference: "RFC 6749 §5.2", inputs: { client_id: client.clientId, method: authenticated.method } }, () => {
      // RFC 6749 §5.2 unauthorized_client: token exchange is a per-client permission.
      if (!client.tokenExchange.enabled) throw oauthError.unauthorizedClient("client may not use token exchange");
    });
    const { subjectToken, subjectTokenType } = await checkRule(trace, { name: "parameters", reference: "RFC 8693 §2.1", inputs: parameterInputs(request) }, () =>
      checkParameters(request),
    );
    const requestedType = await checkRule(
      trace,
      { name: "requested_token_type", reference: "RFC 8693 §2.1", inputs: { requested_token_type: request.requestedTokenType } },
      () => requestedTokenType(request.requestedTokenType),
    );
    await checkRule(trace, { name: "exchange_permissions", reference: "RFC 6749 §5.2, EXCHANGE.md: token exchange kinds", inputs: { tokenExchange: client.tokenExchange } }, () =>
      checkPermissions(client, request, requestedType),
    );

    if (request.requestedIssuer) {
      // EXCHANGE.md kind 5, internal to external: the user's stored upstream token.
      const subject = await this.#verifySubject(context, client, subjectToken, subjectTokenType, draft, trace);
      const spec = { name: "stored_provider_token", reference: "EXCHANGE.md kind 5", inputs: { requested_issuer: request.requestedIssuer, user: subject.sub } };
      return checkRule(trace, spec, () => storedProviderToken(this.deps, context.realm, client, subject.sub, request.requestedIssuer ?? "", request.requestedTokenType));
    }
    const provider = await checkRule(trace, { name: "subject_issuer", reference: "EXCHANGE.md kind 4", inputs: { subject_issuer: request.subjectIssuer } }, () =>
      subjectProvider(this.deps, context, client, subjectToken, request.subjectIssuer),
    );
    if (provider) return this.#fromProvider(context, client, provider, request, { requestedType, confirmation }, draft, trace);

    const subject = await this.#verifySubject(context, client, subjectToken, subjectTokenType, draft, trace);
    const actor = request.actorToken ? await this.#verifyActor(context, client, subject, request.actorToken, trace) : undefined;
    if (actor) draft.jtis.push(actor.jti);
    const issued = request.requestedSubject
      ? await this.#impersonate(context, client, subject, request.requestedSubject, trace)
      : subjectOf(subject, actor, context.urls.issuer);
    const act = issued.act;
    if (act) {
      const spec = { name: "delegation_depth", reference: "RFC 8693 §4.1, EXCHANGE.md kind 3", inputs: { act, maxDelegationDepth: context.realm.maxDelegationDepth } };
      await checkRule(trace, spec, () => checkChainDepth(act, context.realm.maxDelegationDepth));
      draft.actor = act.sub;
    }
    draft.subject = issued.sub;
    const parents: ParentToken[] = [{ parameter: "subject_token", jti: subject.jti }, ...(actor ? [{ parameter: "actor_token" as const, jti: actor.jti }] : [])];
    // An exchanged token never outlives its subject (or actor) token, so exchanges cannot extend a grant.
    const notAfter = Math.min(subject.exp, actor?.exp ?? Infinity);
    const targets = await this.#targets(context, client, request, scopesOf(subject), client.tokenExchange.scopePolicy, trace);
    // Impersonation starts a session, once nothing else can refuse the request.
    if (request.requestedSubject) await this.#startSession(context, client, issued);
    Object.assign(draft, { scopes: targets.scopes, audience: targets.aud, sessionId: issued.sid });
    return this.#issue(context, { client, parents, notAfter, issued, ...targets, requestedType, confirmation }, draft, trace);
  }

  async #startSession(context: RealmContext, client: Client, issued: IssuedSubject): Promise<void> {
    issued.session = await this.deps.sessions.start(context.realm, issued.sub, client.clientId);
    issued.sid = issued.session.id;
  }

  /** A realm access token as subject (kinds 1-3 and 5), issued to or for the requester. */
  async #verifySubject(
    context: RealmContext,
    client: Client,
    token: string,
    type: string,
    draft: AuditDraft,
    trace: RuleTrace | undefined,
  ): Promise<VerifiedAccessToken> {
    const spec = { name: "subject_token", reference: "RFC 8693 §2.2.2", inputs: { subject_token: tokenFingerprint(token), subject_token_type: type } };
    const subject = await checkRule(trace, spec, () => {
      // RFC 8693 §2.2.2: an unsupported subject_token_type is invalid_request.
      if (!INTERNAL_TOKEN_TYPES.has(type)) throw oauthError.invalidRequest("subject_token_type unsupported: use an access_token or jwt type");
      return verifyPresentedToken(this.deps, this.deps.sessions, context, token, "subject_token");
    });
    draft.subject = subject.sub;
    draft.jtis.push(subject.jti);
    await checkRule(trace, { name: "subject_token_party", reference: "RFC 8693 §2.2.2, §5", inputs: partyInputs(subject, client) }, () => {
      // RFC 8693 §2.2.2 / §5: the requester must be a party the subject token was issued to or for.
      if (!isIssuedToOrFor(subject, client.clientId)) throw oauthError.invalidRequest("subject_token was not issued to or for this client");
    });
    return subject;
  }

  /** EXCHANGE.md kind 4, external to internal: a realm token for the provider's user, in a new session. */
  async #fromProvider(
    context: RealmContext,
    client: Client,
    provider: IdentityProvider,
    request: TokenExchangeRequest,
    { requestedType, confirmation }: Pick<Decision, "requestedType" | "confirmation">,
    draft: AuditDraft,
    trace: RuleTrace | undefined,
  ): Promise<TokenResponse> {
    const spec = { name: "identity_provider", reference: "EXCHANGE.md kind 4", inputs: { provider: provider.alias, identityProviders: client.tokenExchange.identityProviders } };
    await checkRule(trace, spec, () => {
      checkProviderPermission(client, provider.alias);
      if (request.actorToken || request.requestedSubject) {
        throw oauthError.invalidRequest("actor_token and requested_subject cannot be combined with an identity provider's token");
      }
    });
    // The provider's scopes mean nothing here: the requester's own scopes apply (EXCHANGE.md kind 4).
    const targets = await this.#targets(context, client, request, new Set(), "requester", trace);
    const token = request.subjectToken ?? "";
    const external = await checkRule(
      trace,
      { name: "external_subject", reference: "EXCHANGE.md kind 4", inputs: { subject_token: tokenFingerprint(token), userPolicy: provider.userPolicy } },
      () => verifyExternalSubject(this.deps, context, client, provider, token, request.subjectTokenType ?? ""),
    );
    const issued: IssuedSubject = { sub: external.userId };
    await this.#startSession(context, client, issued);
    Object.assign(draft, { subject: external.userId, scopes: targets.scopes, audience: targets.aud, sessionId: issued.sid });
    return this.#issue(context, { client, parents: [], notAfter: external.exp, issued, ...targets, requestedType, confirmation }, draft, trace);
  }

  /** Scopes and audiences of the issued token (EXCHANGE.md "Audience, resource and scope"). */
  async #targets(
    context: RealmContext,
    client: Client,
    request: TokenExchangeRequest,
    subjectScopes: ReadonlySet<string>,
    policy: Client["tokenExchange"]["scopePolicy"],
    trace: RuleTrace | undefined,
  ): Promise<{ scopes: string[]; aud: string[] }> {
    const scopeInputs = { scope: request.scope, scopePolicy: policy, subjectScopes: [...subjectScopes], defaultScopes: client.defaultScopes, optionalScopes: client.optionalScopes };
    const { requestedScopes, granted } = await checkRule(trace, { name: "scope", reference: "RFC 8693 §2.1, RFC 6749 §3.3, EXCHANGE.md: audience, resource and scope", inputs: scopeInputs }, () => {
      const requestedScopes = parseScopeParameter(request.scope);
      return { requestedScopes, granted: grantExchangeScopes(client, requestedScopes, subjectScopes, policy) };
    });
    const audiencesByScope = await scopeAudiences(this.deps.repository, context.realm.name, granted);
    const targets = { audience: request.audience, resource: request.resource };
    const available = availableAudiences(audiencesByScope);
    const audienceInputs = { ...targets, grantedScopes: granted, scopeAudiences: Object.fromEntries(audiencesByScope) };
    const aud = await checkRule(trace, { name: "audience", reference: "RFC 8693 §2.2.2, RFC 8707 §2, EXCHANGE.md: audience, resource and scope", inputs: audienceInputs }, () =>
      resolveAudience(this.deps.repository, context.realm.name, targets, available, client.clientId),
    );
    const named = targets.audience.length + targets.resource.length > 0;
    return { scopes: requestedScopes === undefined && named ? scopesForTargets(audiencesByScope, aud) : granted, aud };
  }

  /** RFC 8693 §2.1 actor_token: a valid realm token for the requester that `may_act` names. */
  async #verifyActor(context: RealmContext, client: Client, subject: VerifiedAccessToken, token: string, trace: RuleTrace | undefined): Promise<VerifiedAccessToken> {
    const actor = await checkRule(trace, { name: "actor_token", reference: "RFC 8693 §2.1, RFC 7009 §2.1", inputs: { actor_token: tokenFingerprint(token) } }, async () => {
      const actor = await verifyPresentedToken(this.deps, this.deps.sessions, context, token, "actor_token");
      if (await this.deps.repository.isTokenRevoked(context.realm.name, actor.jti)) throw oauthError.invalidRequest("actor_token revoked");
      return actor;
    });
    const inputs = { ...partyInputs(actor, client), subject: subject.sub, may_act: subject.may_act };
    await checkRule(trace, { name: "actor_party", reference: "RFC 8693 §2.2.2, §4.4", inputs }, () => {
      // RFC 8693 §2.2.2: the actor token must be issued to or for the requester too.
      if (!isIssuedToOrFor(actor, client.clientId)) throw oauthError.invalidRequest("actor_token was not issued to or for this client");
      // A subject acting for itself is no delegation.
      if (actor.sub === subject.sub) throw oauthError.invalidRequest("actor_token has the same subject as subject_token");
      // RFC 8693 §4.4: the subject token says who may act for it.
      if (!mayActMatches(subject, actor)) throw oauthError.invalidRequest("actor_token is not named by the subject_token's may_act");
    });
    return actor;
  }

  /** Keycloak's requested_subject: the named user, with the caller as actor (RFC 8693 §4.1). */
  async #impersonate(context: RealmContext, client: Client, subject: VerifiedAccessToken, requested: string, trace: RuleTrace | undefined): Promise<IssuedSubject> {
    const realm = context.realm.name;
    const inputs = { requested_subject: requested, impersonation: client.tokenExchange.impersonation };
    const user = await checkRule(trace, { name: "impersonation", reference: "EXCHANGE.md kind 2, RFC 6749 §5.2", inputs }, async () => {
      const user: User | undefined =
        (await this.deps.repository.findUserByUsername(realm, requested)) ?? (await this.deps.repository.getUser(realm, requested));
      // EXCHANGE.md "Impersonation": an unknown or disabled user is invalid_request.
      if (!user?.enabled) throw oauthError.invalidRequest("requested_subject is not an enabled user of the realm");
      // RFC 6749 §5.2 unauthorized_client: the policy does not name this user.
      if (!mayImpersonate(client.tokenExchange.impersonation, user)) throw oauthError.unauthorizedClient("client may not impersonate this user");
      return user;
    });
    return { sub: user.id, act: actClaim({ sub: subject.sub, clientId: client.clientId }, actOf(subject.act)) };
  }

  async #issue(context: RealmContext, decision: Decision, draft: AuditDraft, trace: RuleTrace | undefined): Promise<TokenResponse> {
    const { realm, urls } = context;
    const { client, parents, notAfter, issued, scopes, aud, requestedType, confirmation } = decision;
    const now = epochSeconds(this.deps.clock.now());
    const jti = randomUUID();
    const exp = Math.min(now + realm.accessTokenLifespan, notAfter);
    const lineage = { name: "parents_not_revoked", reference: "RFC 7009 §2.1", inputs: { parents } };
    await checkRule(trace, lineage, () => this.#recordLineage(realm.name, parents, jti, exp));
    const scope = scopes.join(" ");
    const common: TokenClaims = {
      jti,
      sub: issued.sub,
      aud: aud.length === 1 ? aud[0] : aud,
      iat: now,
      exp,
      azp: client.clientId,
      ...(issued.sid !== undefined && { sid: issued.sid }),
    };
    if (requestedType === TokenType.idToken) {
      const signed = await this.deps.issuer.issueIdToken(realm, urls.issuer, { ...common, aud: client.clientId });
      draft.jtis.push(signed.jti);
      // RFC 8693 §2.2.1: a token that is not an access token has token_type N_A.
      return { accessToken: signed.token, issuedTokenType: TokenType.idToken, tokenType: "N_A", expiresIn: signed.expiresIn, scope, jti: signed.jti };
    }
    const refreshInputs = { refreshTokens: client.tokenExchange.refreshTokens, sid: issued.sid, requested_token_type: requestedType };
    const session = await checkRule(trace, { name: "refresh_token_session", reference: "EXCHANGE.md: issued tokens", inputs: refreshInputs }, () =>
      this.#sessionFor(realm.name, client, issued, requestedType),
    );
    const refresh =
      session &&
      (await this.deps.refreshTokens.mint(realm, session, { clientId: client.clientId, subject: issued.sub, scopes, audience: aud, ...(issued.act && { act: issued.act }) }));
    if (refresh) {
      draft.jtis.push(refresh.record.jti);
      await this.#recordLineage(realm.name, parents, refresh.record.jti, epochSeconds(refresh.record.expiresAt));
    }
    if (requestedType === TokenType.refreshToken && refresh) {
      // RFC 8693 §2.2.1: the requested token travels in access_token, whatever its type.
      return { accessToken: refresh.token, issuedTokenType: TokenType.refreshToken, tokenType: "N_A", expiresIn: refresh.expiresIn, scope, jti: refresh.record.jti };
    }
    const mayAct = await mayActClaim(this.deps.repository, realm.name, urls.issuer, client);
    const signed = await this.deps.issuer.issueAccessToken(realm, urls.issuer, {
      ...common,
      client_id: client.clientId,
      ...(scope && { scope }),
      ...(issued.act && { act: issued.act }),
      ...(mayAct && { may_act: mayAct }),
      ...confirmation,
    });
    draft.jtis.push(signed.jti);
    return {
      accessToken: signed.token,
      issuedTokenType: TokenType.accessToken,
      tokenType: "Bearer",
      expiresIn: signed.expiresIn,
      scope,
      jti: signed.jti,
      ...(refresh && { refreshToken: refresh.token, refreshExpiresIn: refresh.expiresIn }),
    };
  }

  /**
   * The session a refresh token is bound to: only for clients with `refreshTokens: same_session`,
   * and only when the subject has a session (EXCHANGE.md "Issued tokens").
   */
  async #sessionFor(realm: string, client: Client, issued: IssuedSubject, requestedType: string): Promise<Session | undefined> {
    const wanted = requestedType === TokenType.refreshToken;
    if (client.tokenExchange.refreshTokens !== "same_session") return undefined;
    const session = issued.session ?? (issued.sid !== undefined ? await this.deps.sessions.active(realm, issued.sid) : undefined);
    if (!session && wanted) throw oauthError.invalidRequest("requested_token_type refresh_token needs a subject with a session");
    return session;
  }

  /** Records the new token as a child of the presented ones; a parent revoked meanwhile refuses the exchange. */
  async #recordLineage(realm: string, parents: ParentToken[], childJti: string, exp: number): Promise<void> {
    const expiresAt = new Date(exp * 1000);
    // Recorded together: storage may send them in one batch.
    const live = await Promise.all(parents.map(({ jti }) => this.deps.repository.recordLineage(realm, { parentJti: jti, childJti, expiresAt })));
    const revoked = parents.find((_, index) => !live[index]);
    // RFC 7009 §2.1: a revoked token is no longer usable, not even for an exchange.
    if (revoked) throw oauthError.invalidRequest(`${revoked.parameter} revoked`);
  }
}

/** The issued token's subject without impersonation: the subject token's, with the actor chain if delegated. */
function subjectOf(subject: VerifiedAccessToken, actor: VerifiedAccessToken | undefined, issuer: string): IssuedSubject {
  const sid = typeof subject.sid === "string" ? subject.sid : undefined;
  if (!actor) return { sub: subject.sub, act: actOf(subject.act), sid };
  // RFC 8693 §4.1: the actor, with any chain the actor token carries (else the subject's) nested.
  const prior = actOf(actor.act) ?? actOf(subject.act);
  const clientId = issuedToClient(actor);
  return { sub: subject.sub, act: actClaim({ sub: actor.sub, iss: issuer, clientId }, prior), sid };
}

/** The claims that say whom a presented token was issued to or for, and who it is about. */
function partyInputs(claims: VerifiedAccessToken, client: Client): Record<string, unknown> {
  return { client_id: client.clientId, token: { sub: claims.sub, azp: claims.azp, client_id: claims.client_id, aud: claims.aud, scope: claims.scope, exp: claims.exp } };
}
