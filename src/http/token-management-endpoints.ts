import { create } from "@bufbuild/protobuf";
import {
  IntrospectTokenRequestSchema,
  LogoutRequestSchema,
  RevokeTokenRequestSchema,
} from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import type { TokenExchangeRpc } from "../rpc/token-exchange-service.js";
import type { FormParameters } from "./form.js";
import { transportOf } from "./client-certificate.js";
import { type HttpRequest, type HttpResponse, writeHead } from "./node-types.js";
import { sendJson } from "./responses.js";
import { clientOf } from "./token-endpoint.js";

/** `POST .../token/introspect` (RFC 7662): the RPC's answer as RFC 7662 §2.2 JSON. */
export async function handleIntrospection(rpc: TokenExchangeRpc, realm: string, form: FormParameters, req: HttpRequest, res: HttpResponse): Promise<void> {
  const answer = await rpc.introspectToken(
    create(IntrospectTokenRequestSchema, {
      realm,
      client: clientOf(form),
      token: form.get("token") ?? "",
      tokenTypeHint: form.get("token_type_hint") ?? "",
    }),
    transportOf(req),
  );
  if (!answer.active) return sendJson(res, 200, { active: false });
  sendJson(res, 200, {
    active: true,
    token_type: answer.tokenType,
    sub: answer.sub,
    client_id: answer.clientId,
    ...(answer.scope && { scope: answer.scope }),
    exp: Number(answer.exp),
    iat: Number(answer.iat),
    aud: answer.aud.length === 1 ? answer.aud[0] : answer.aud,
    iss: answer.iss,
    jti: answer.jti,
    ...(answer.sid && { sid: answer.sid }),
    ...(answer.actJson && { act: JSON.parse(answer.actJson) as unknown }),
  });
}

/** `POST .../revoke` (RFC 7009): 200 with an empty body whether or not the token was known. */
export async function handleRevocation(rpc: TokenExchangeRpc, realm: string, form: FormParameters, req: HttpRequest, res: HttpResponse): Promise<void> {
  await rpc.revokeToken(
    create(RevokeTokenRequestSchema, {
      realm,
      client: clientOf(form),
      token: form.get("token") ?? "",
      tokenTypeHint: form.get("token_type_hint") ?? "",
    }),
    transportOf(req),
  );
  writeHead(res, 200, { "cache-control": "no-store", pragma: "no-cache", "content-length": 0 });
  res.end();
}

/** `POST .../logout` with `refresh_token` (Keycloak's back-channel logout): 204 once the session ended. */
export async function handleLogout(rpc: TokenExchangeRpc, realm: string, form: FormParameters, req: HttpRequest, res: HttpResponse): Promise<void> {
  await rpc.logout(
    create(LogoutRequestSchema, { realm, client: clientOf(form), refreshToken: form.get("refresh_token") ?? "" }),
    transportOf(req),
  );
  writeHead(res, 204, { "cache-control": "no-store", pragma: "no-cache" });
  res.end();
}
