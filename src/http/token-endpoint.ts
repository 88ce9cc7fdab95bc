import type { HttpRequest, HttpResponse } from "./node-types.js";
import { create } from "@bufbuild/protobuf";
import {
  ClientAuthenticationSchema,
  ClientCredentialsRequestSchema,
  ExchangeTokenRequestSchema,
  RefreshTokenRequestSchema,
} from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { GrantType } from "../domain/index.js";
import { oauthError } from "../exchange/errors.js";
import type { TokenExchangeRpc } from "../rpc/token-exchange-service.js";
import type { FormParameters } from "./form.js";
import { transportOf } from "./client-certificate.js";
import { sendJson } from "./responses.js";

/** An RPC's token answer as RFC 6749 §5.1 JSON (empty scope and refresh token left out). */
function tokenJson(issued: { accessToken: string; tokenType: string; expiresIn: bigint; scope: string; refreshToken?: string; refreshExpiresIn?: bigint }) {
  return {
    access_token: issued.accessToken,
    token_type: issued.tokenType,
    expires_in: Number(issued.expiresIn),
    ...(issued.scope && { scope: issued.scope }),
    ...(issued.refreshToken && { refresh_token: issued.refreshToken, refresh_expires_in: Number(issued.refreshExpiresIn ?? 0n) }),
  };
}

/** The client authentication parameters of the form body, for every OAuth endpoint (RFC 6749 §2.3.1, RFC 7523 §2.2). */
export function clientOf(form: FormParameters) {
  return create(ClientAuthenticationSchema, {
    clientId: form.get("client_id") ?? "",
    clientSecret: form.get("client_secret") ?? "",
    clientAssertionType: form.get("client_assertion_type") ?? "",
    clientAssertion: form.get("client_assertion") ?? "",
  });
}

/** The RFC 8693 §2.1 parameters of a token exchange form body (with Keycloak's extensions). */
export function exchangeRequestOf(realm: string, form: FormParameters) {
  return create(ExchangeTokenRequestSchema, {
    realm,
    client: clientOf(form),
    subjectToken: form.get("subject_token") ?? "",
    subjectTokenType: form.get("subject_token_type") ?? "",
    actorToken: form.get("actor_token") ?? "",
    actorTokenType: form.get("actor_token_type") ?? "",
    requestedTokenType: form.get("requested_token_type") ?? "",
    audience: form.getAll("audience"),
    resource: form.getAll("resource"),
    scope: form.get("scope") ?? "",
    requestedSubject: form.get("requested_subject") ?? "",
    subjectIssuer: form.get("subject_issuer") ?? "",
    requestedIssuer: form.get("requested_issuer") ?? "",
  });
}

/**
 * The token endpoint `POST /realms/{realm}/protocol/openid-connect/token`: maps the form onto the
 * TokenExchangeService RPCs and renders their answer as RFC 6749 §5.1 / RFC 8693 §2.2.1 JSON.
 * Holds no grant logic; errors thrown here are rendered by the caller.
 */
export async function handleTokenRequest(
  rpc: TokenExchangeRpc,
  realm: string,
  form: FormParameters,
  req: HttpRequest,
  res: HttpResponse,
): Promise<void> {
  const transport = transportOf(req);
  const grantType = form.get("grant_type");
  if (grantType === GrantType.tokenExchange) {
    const issued = await rpc.exchangeToken(exchangeRequestOf(realm, form), transport);
    sendJson(res, 200, { ...tokenJson(issued), issued_token_type: issued.issuedTokenType });
    return;
  }
  if (grantType === GrantType.clientCredentials) {
    const issued = await rpc.clientCredentials(
      create(ClientCredentialsRequestSchema, { realm, client: clientOf(form), scope: form.get("scope") ?? "" }),
      transport,
    );
    sendJson(res, 200, tokenJson(issued));
    return;
  }
  if (grantType === GrantType.refreshToken) {
    const issued = await rpc.refreshToken(
      create(RefreshTokenRequestSchema, {
        realm,
        client: clientOf(form),
        refreshToken: form.get("refresh_token") ?? "",
        scope: form.get("scope") ?? "",
      }),
      transport,
    );
    sendJson(res, 200, tokenJson(issued));
    return;
  }
  // RFC 6749 §5.2: a missing grant_type is invalid_request, an unknown one unsupported_grant_type.
  if (grantType === undefined) throw oauthError.invalidRequest("grant_type is required");
  throw oauthError.unsupportedGrantType("grant_type unsupported");
}
