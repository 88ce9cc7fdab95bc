import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  TokenExchangeService,
  type ClientAuthentication,
  type ClientCredentialsRequest,
  type ClientCredentialsResponse,
  type ExchangeTokenRequest,
  type ExchangeTokenResponse,
} from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import type { PresentedClientCredentials } from "../exchange/client-auth.js";
import type { ClientCredentialsGrant } from "../exchange/client-credentials-grant.js";
import type { TokenExchangeGrant } from "../exchange/token-exchange-grant.js";
import type { Logger } from "../logger.js";
import { toConnectError } from "./errors.js";

/** An empty proto3 string means "absent". */
const present = (value: string): string | undefined => (value === "" ? undefined : value);

/** Client credentials from the `authorization` metadata and the request's `client` fields. */
function credentialsOf(client: ClientAuthentication | undefined, authorization: string | undefined): PresentedClientCredentials {
  return {
    authorization,
    clientId: present(client?.clientId ?? ""),
    clientSecret: present(client?.clientSecret ?? ""),
    clientAssertionType: present(client?.clientAssertionType ?? ""),
    clientAssertion: present(client?.clientAssertion ?? ""),
  };
}

/**
 * The TokenExchangeService implementation. Its methods take the decoded request and the
 * `authorization` header, so the OAuth form adapter calls exactly the same code in-process.
 * Failures are thrown as ConnectErrors with an OAuthError detail.
 */
export class TokenExchangeRpc {
  constructor(
    private readonly exchangeGrant: TokenExchangeGrant,
    private readonly clientCredentialsGrant: ClientCredentialsGrant,
    private readonly log: Logger,
  ) {}

  /** RFC 8693 token exchange. */
  async exchangeToken(request: ExchangeTokenRequest, authorization?: string): Promise<ExchangeTokenResponse> {
    try {
      const issued = await this.exchangeGrant.exchange({
        realm: request.realm,
        credentials: credentialsOf(request.client, authorization),
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
      });
      this.log.info({ realm: request.realm, grant: "token_exchange", jti: issued.jti }, "token issued");
      return {
        $typeName: "tessera.exchange.v1.ExchangeTokenResponse",
        accessToken: issued.accessToken,
        issuedTokenType: issued.issuedTokenType ?? "",
        tokenType: issued.tokenType,
        expiresIn: BigInt(issued.expiresIn),
        scope: issued.scope,
        refreshToken: "",
        refreshExpiresIn: 0n,
      };
    } catch (error) {
      throw toConnectError(error, this.log);
    }
  }

  /** RFC 6749 §4.4 client credentials. */
  async clientCredentials(request: ClientCredentialsRequest, authorization?: string): Promise<ClientCredentialsResponse> {
    try {
      const issued = await this.clientCredentialsGrant.grant({
        realm: request.realm,
        credentials: credentialsOf(request.client, authorization),
        scope: present(request.scope),
      });
      this.log.info({ realm: request.realm, grant: "client_credentials", jti: issued.jti }, "token issued");
      return {
        $typeName: "tessera.exchange.v1.ClientCredentialsResponse",
        accessToken: issued.accessToken,
        tokenType: issued.tokenType,
        expiresIn: BigInt(issued.expiresIn),
        scope: issued.scope,
      };
    } catch (error) {
      throw toConnectError(error, this.log);
    }
  }

  /** The Connect service implementation over this object. */
  serviceImpl(): ServiceImpl<typeof TokenExchangeService> {
    const authorization = (context: HandlerContext) => context.requestHeader.get("authorization") ?? undefined;
    return {
      exchangeToken: (request, context) => this.exchangeToken(request, authorization(context)),
      clientCredentials: (request, context) => this.clientCredentials(request, authorization(context)),
    };
  }
}
