import { create } from "@bufbuild/protobuf";
import { createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ClientCredentialsResponseSchema,
  ExchangeTokenRequestSchema,
  ExchangeTokenResponseSchema,
  ExplainExchangeResponseSchema,
  IntrospectTokenResponseSchema,
  LogoutResponseSchema,
  RefreshTokenResponseSchema,
  RevokeTokenResponseSchema,
  TokenExchangeService,
  type ClientAuthentication,
  type ClientCredentialsRequest,
  type ClientCredentialsResponse,
  type ExchangeTokenRequest,
  type ExchangeTokenResponse,
  type ExplainExchangeRequest,
  type ExplainExchangeResponse,
  type IntrospectTokenRequest,
  type IntrospectTokenResponse,
  type LogoutRequest,
  type LogoutResponse,
  type RefreshTokenRequest,
  type RefreshTokenResponse,
  type RevokeTokenRequest,
  type RevokeTokenResponse,
} from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import type { PresentedCertificate, PresentedClientCredentials } from "../exchange/client-auth.js";
import type { ClientCredentialsGrant } from "../exchange/client-credentials-grant.js";
import type { TokenExchangeRequest } from "../exchange/exchange-parameters.js";
import type { ExchangeExplainer, Explanation } from "../exchange/exchange-explainer.js";
import type { Logout } from "../exchange/logout.js";
import type { RefreshTokenGrant } from "../exchange/refresh-token-grant.js";
import type { TokenExchangeGrant } from "../exchange/token-exchange-grant.js";
import type { TokenIntrospection } from "../exchange/token-introspection.js";
import type { TokenRevocation } from "../exchange/token-revocation.js";
import type { Logger } from "../ops/logger.js";
import { toConnectError } from "./errors.js";

/** An empty proto3 string means "absent". */
const present = (value: string): string | undefined => (value === "" ? undefined : value);

/** What the transport carries about the client: the `authorization` header, a mutual-TLS certificate, the peer address. */
export interface TransportCredentials {
  authorization?: string;
  clientCertificate?: PresentedCertificate;
  /** The connection's peer address (throttling of failed authentication). */
  sourceAddress?: string;
}

/** The context key under which the Connect handler finds the request's client certificate. */
export const CLIENT_CERTIFICATE = createContextKey<PresentedCertificate | undefined>(undefined, { description: "mutual-TLS client certificate" });

/** The context key under which a Connect handler finds the peer address of the request's connection. */
export const SOURCE_ADDRESS = createContextKey<string | undefined>(undefined, { description: "peer address of the connection" });

/** Client credentials from the transport and the request's `client` fields. */
function credentialsOf(client: ClientAuthentication | undefined, { authorization, clientCertificate, sourceAddress }: TransportCredentials): PresentedClientCredentials {
  return {
    authorization,
    ...(clientCertificate && { clientCertificate }),
    ...(sourceAddress !== undefined && { sourceAddress }),
    clientId: present(client?.clientId ?? ""),
    clientSecret: present(client?.clientSecret ?? ""),
    clientAssertionType: present(client?.clientAssertionType ?? ""),
    clientAssertion: present(client?.clientAssertion ?? ""),
  };
}

/** The grants and token operations behind the service. */
export interface TokenOperations {
  exchange: TokenExchangeGrant;
  clientCredentials: ClientCredentialsGrant;
  refresh: RefreshTokenGrant;
  introspection: TokenIntrospection;
  revocation: TokenRevocation;
  logout: Logout;
  explain: ExchangeExplainer;
}

/** The grant's request from the wire's ExchangeTokenRequest. */
function exchangeRequestOf(request: ExchangeTokenRequest, transport: TransportCredentials): TokenExchangeRequest {
  return {
    realm: request.realm,
    credentials: credentialsOf(request.client, transport),
    subjectToken: present(request.subjectToken),
    subjectTokenType: present(request.subjectTokenType),
    actorToken: present(request.actorToken),
    actorTokenType: present(request.actorTokenType),
    requestedTokenType: present(request.requestedTokenType),
    audience: request.audience,
    resource: request.resource,
    scope: present(request.scope),
    requestedSubject: present(request.requestedSubject),
    subjectIssuer: present(request.subjectIssuer),
    requestedIssuer: present(request.requestedIssuer),
  };
}

/** An explanation on the wire: each rule's inputs as JSON strings, the claims as one JSON object. */
function explanationMessage({ rules, outcome }: Explanation): ExplainExchangeResponse {
  return create(ExplainExchangeResponseSchema, {
    rules: rules.map((rule) => ({
      name: rule.name,
      reference: rule.reference,
      inputs: Object.fromEntries(Object.entries(rule.inputs).filter(([, v]) => v !== undefined).map(([k, v]) => [k, JSON.stringify(v)])),
      passed: rule.passed,
      detail: rule.detail ?? "",
    })),
    outcome: {
      issued: outcome.issued,
      error: outcome.error ?? "",
      errorDescription: outcome.errorDescription ?? "",
      claimsJson: outcome.claims ? JSON.stringify(outcome.claims) : "",
      issuedTokenType: outcome.issuedTokenType ?? "",
      tokenType: outcome.tokenType ?? "",
      scope: outcome.scope ?? "",
      refreshToken: outcome.refreshToken,
    },
  });
}

/**
 * The TokenExchangeService implementation. Its methods take the decoded request and what the
 * transport says of the client (`authorization` header, mutual-TLS certificate), so the OAuth form
 * adapter calls exactly the same code in-process.
 * Failures are thrown as ConnectErrors with an OAuthError detail.
 */
export class TokenExchangeRpc {
  constructor(
    private readonly operations: TokenOperations,
    private readonly log: Logger,
  ) {}

  /** RFC 8693 token exchange. */
  exchangeToken(request: ExchangeTokenRequest, transport: TransportCredentials = {}): Promise<ExchangeTokenResponse> {
    return this.#call(async () => {
      const issued = await this.operations.exchange.exchange(exchangeRequestOf(request, transport));
      return create(ExchangeTokenResponseSchema, {
        accessToken: issued.accessToken,
        issuedTokenType: issued.issuedTokenType ?? "",
        tokenType: issued.tokenType,
        expiresIn: BigInt(issued.expiresIn),
        scope: issued.scope,
        refreshToken: issued.refreshToken ?? "",
        refreshExpiresIn: BigInt(issued.refreshExpiresIn ?? 0),
      });
    });
  }

  /**
   * ExplainExchange: the rule trace and outcome of an exchange, with nothing issued or stored. A
   * bearer `authorization` is a realm admin's token; the client is then named by `client_id` alone.
   */
  explainExchange(request: ExplainExchangeRequest, transport: TransportCredentials = {}): Promise<ExplainExchangeResponse> {
    return this.#call(async () => {
      const exchange = request.exchange ?? create(ExchangeTokenRequestSchema);
      const caller = await this.operations.explain.callerOf(transport.authorization, exchange.realm);
      // A bearer token is the admin's, not the client's credentials.
      const credentials = caller === "admin" ? { ...transport, authorization: undefined } : transport;
      return explanationMessage(await this.operations.explain.explain(exchangeRequestOf(exchange, credentials), caller));
    });
  }

  /** RFC 6749 §4.4 client credentials. */
  clientCredentials(request: ClientCredentialsRequest, transport: TransportCredentials = {}): Promise<ClientCredentialsResponse> {
    return this.#call(async () => {
      const issued = await this.operations.clientCredentials.grant({
        realm: request.realm,
        credentials: credentialsOf(request.client, transport),
        scope: present(request.scope),
      });
      return create(ClientCredentialsResponseSchema, {
        accessToken: issued.accessToken,
        tokenType: issued.tokenType,
        expiresIn: BigInt(issued.expiresIn),
        scope: issued.scope,
      });
    });
  }

  /** RFC 6749 §6 refresh with rotation. */
  refreshToken(request: RefreshTokenRequest, transport: TransportCredentials = {}): Promise<RefreshTokenResponse> {
    return this.#call(async () => {
      const issued = await this.operations.refresh.refresh({
        realm: request.realm,
        credentials: credentialsOf(request.client, transport),
        refreshToken: present(request.refreshToken),
        scope: present(request.scope),
      });
      return create(RefreshTokenResponseSchema, {
        accessToken: issued.accessToken,
        tokenType: issued.tokenType,
        expiresIn: BigInt(issued.expiresIn),
        scope: issued.scope,
        refreshToken: issued.refreshToken ?? "",
        refreshExpiresIn: BigInt(issued.refreshExpiresIn ?? 0),
      });
    });
  }

  /** RFC 7662 introspection. */
  introspectToken(request: IntrospectTokenRequest, transport: TransportCredentials = {}): Promise<IntrospectTokenResponse> {
    return this.#call(async () => {
      const answer = await this.operations.introspection.introspect({
        realm: request.realm,
        credentials: credentialsOf(request.client, transport),
        token: present(request.token),
        tokenTypeHint: present(request.tokenTypeHint),
      });
      if (!answer.active) return create(IntrospectTokenResponseSchema, { active: false });
      return create(IntrospectTokenResponseSchema, {
        active: true,
        scope: answer.scope,
        clientId: answer.clientId,
        tokenType: answer.tokenType,
        exp: BigInt(answer.exp),
        iat: BigInt(answer.iat),
        sub: answer.sub,
        aud: answer.aud,
        iss: answer.iss,
        jti: answer.jti,
        sid: answer.sid ?? "",
        actJson: answer.act ? JSON.stringify(answer.act) : "",
      });
    });
  }

  /** RFC 7009 revocation. */
  revokeToken(request: RevokeTokenRequest, transport: TransportCredentials = {}): Promise<RevokeTokenResponse> {
    return this.#call(async () => {
      await this.operations.revocation.revoke({
        realm: request.realm,
        credentials: credentialsOf(request.client, transport),
        token: present(request.token),
        tokenTypeHint: present(request.tokenTypeHint),
      });
      return create(RevokeTokenResponseSchema);
    });
  }

  /** Ends the session of a refresh token. */
  logout(request: LogoutRequest, transport: TransportCredentials = {}): Promise<LogoutResponse> {
    return this.#call(async () => {
      await this.operations.logout.logout({
        realm: request.realm,
        credentials: credentialsOf(request.client, transport),
        refreshToken: present(request.refreshToken),
      });
      return create(LogoutResponseSchema);
    });
  }

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toConnectError(error, this.log);
    }
  }

  /** The Connect service implementation over this object. */
  serviceImpl(): ServiceImpl<typeof TokenExchangeService> {
    const transport = (context: HandlerContext): TransportCredentials => ({
      authorization: context.requestHeader.get("authorization") ?? undefined,
      clientCertificate: context.values.get(CLIENT_CERTIFICATE),
      sourceAddress: context.values.get(SOURCE_ADDRESS),
    });
    return {
      exchangeToken: (request, context) => this.exchangeToken(request, transport(context)),
      clientCredentials: (request, context) => this.clientCredentials(request, transport(context)),
      refreshToken: (request, context) => this.refreshToken(request, transport(context)),
      introspectToken: (request, context) => this.introspectToken(request, transport(context)),
      revokeToken: (request, context) => this.revokeToken(request, transport(context)),
      logout: (request, context) => this.logout(request, transport(context)),
      explainExchange: (request, context) => this.explainExchange(request, transport(context)),
    };
  }
}
