/**
 * Tessera's client library for internal services: cached RFC 8693 token exchange over Connect/gRPC or the OAuth
 * form endpoint, outgoing Connect interceptor and fetch wrapper, workload-identity token files, and verification
 * of incoming Tessera tokens. The grpc-js pieces are in `@tessera/client/grpc-js`.
 * @module
 */
export { connectExchange, type ConnectExchangeOptions } from "./calls/connect-exchange.js";
export { formExchange, type FormExchangeOptions } from "./calls/form-exchange.js";
export { type ClientAuth, type ClientSecretAuth, type PrivateKeyJwtAuth } from "./client-auth.js";
export { TokenExchangeError, type TokenExchangeErrorInit } from "./errors.js";
export { ACCESS_TOKEN_TYPE, type ExchangeCall, type ExchangeParams, type ExchangeResult } from "./exchange-types.js";
export { bearerTokenOf, currentIncomingToken, runWithIncomingToken, type IncomingToken } from "./incoming-context.js";
export { type ExchangeHooks, type ExchangeOutcome } from "./metrics-hooks.js";
export { exchangeInterceptor } from "./outgoing/connect-exchange-interceptor.js";
export { type DownstreamOptions, type TokenSource, downstreamToken } from "./outgoing/downstream-token.js";
export { exchangeFetch, type ExchangeFetchOptions } from "./outgoing/exchange-fetch.js";
export { TokenExchanger, type TokenExchangerOptions } from "./token-exchanger.js";
export { verifyInterceptor } from "./verify/connect-verify-interceptor.js";
export {
  createTokenVerifier,
  TokenVerificationError,
  type Actor,
  type TokenVerifier,
  type TokenVerifierOptions,
  type VerifiedToken,
} from "./verify/token-verifier.js";
export { workloadTokenFile } from "./workload-token-file.js";
