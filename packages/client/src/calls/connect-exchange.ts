import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { OAuthErrorSchema, TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { clientCredentialsParts, type ClientAuth } from "../client-auth.js";
import { TokenExchangeError } from "../errors.js";
import { ACCESS_TOKEN_TYPE, type ExchangeCall } from "../exchange-types.js";

/** Options of {@link connectExchange}. */
export interface ConnectExchangeOptions {
  /** A Connect, gRPC or gRPC-Web transport to Tessera (e.g. `createGrpcTransport({ baseUrl })`). */
  transport: Transport;
  /** The realm whose TokenExchangeService is called. */
  realm: string;
  /** How to authenticate as a client. */
  auth: ClientAuth;
  /** The realm issuer, `{publicUrl}/realms/{realm}`: the `aud` of private_key_jwt assertions. */
  issuer?: string;
  /** Per-call deadline in milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** An {@link ExchangeCall} over TokenExchangeService.ExchangeToken (Connect, gRPC or gRPC-Web). */
export function connectExchange(options: ConnectExchangeOptions): ExchangeCall {
  const client = createClient(TokenExchangeService, options.transport);
  if (options.auth.method === "private_key_jwt" && !options.issuer) {
    throw new TypeError("connectExchange: private_key_jwt needs `issuer`, the audience of the client assertion");
  }
  return async (params) => {
    const credentials = await clientCredentialsParts(options.auth, options.issuer ?? "");
    const { fields } = credentials;
    try {
      const response = await client.exchangeToken(
        {
          realm: options.realm,
          client: {
            clientId: fields.client_id ?? "",
            clientSecret: fields.client_secret ?? "",
            clientAssertionType: fields.client_assertion_type ?? "",
            clientAssertion: fields.client_assertion ?? "",
          },
          subjectToken: params.subjectToken,
          subjectTokenType: params.subjectTokenType ?? ACCESS_TOKEN_TYPE,
          actorToken: params.actorToken ?? "",
          actorTokenType: params.actorToken ? (params.actorTokenType ?? ACCESS_TOKEN_TYPE) : "",
          requestedTokenType: params.requestedTokenType ?? "",
          audience: [...(params.audience ?? [])],
          resource: [...(params.resource ?? [])],
          scope: (params.scope ?? []).join(" "),
        },
        {
          headers: credentials.authorization ? { authorization: credentials.authorization } : {},
          timeoutMs: options.timeoutMs ?? 10_000,
        },
      );
      return {
        accessToken: response.accessToken,
        issuedTokenType: response.issuedTokenType,
        tokenType: response.tokenType,
        expiresIn: Number(response.expiresIn),
        scope: response.scope ? response.scope.split(" ") : [],
      };
    } catch (error) {
      throw typedError(error);
    }
  };
}

/** A ConnectError as a TokenExchangeError: the OAuthError detail when Tessera attached one, else the gRPC code. */
function typedError(error: unknown): TokenExchangeError {
  const connectError = ConnectError.from(error);
  const [detail] = connectError.findDetails(OAuthErrorSchema);
  return new TokenExchangeError({
    error: detail?.error || "temporarily_unavailable",
    errorDescription: detail ? detail.errorDescription : connectError.rawMessage,
    code: connectError.code,
    accountLinkUrl: detail?.accountLinkUrl || undefined,
    cause: error,
  });
}
