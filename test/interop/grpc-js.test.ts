/**
 * Interop: a plain `@grpc/grpc-js` client, built at run time from proto/ with `@grpc/proto-loader`
 * (what a Node.js team without protobuf-es would write), against the real server's h2c port.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import {
  basic,
  call,
  decodeStatusDetails,
  loadTokenExchangeClient,
  type ClientCredentialsRequest,
  type ExchangeTokenRequest,
  type TokenExchangeClient,
} from "../support/grpc-js-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "interop-grpc-js";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

describe("@grpc/grpc-js client (proto-loader) against Tessera's gRPC port", () => {
  let harness: TesseraHarness;
  let client: TokenExchangeClient;
  let verify: (token: string, audience?: string) => Promise<{ payload: JWTPayload; protectedHeader: ProtectedHeaderParameters }>;

  before(async () => {
    harness = await startTessera();
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    const TokenExchangeService = loadTokenExchangeClient();
    client = new TokenExchangeService(`127.0.0.1:${harness.port}`, grpc.credentials.createInsecure());
    const jwks = createRemoteJWKSet(new URL(`${harness.issuer(REALM)}/protocol/openid-connect/certs`));
    verify = (token, audience) =>
      jwtVerify(token, jwks, { issuer: harness.issuer(REALM), typ: "at+jwt", ...(audience && { audience }) });
  });

  after(async () => {
    client?.close();
    await harness?.stop();
  });

  const clientCredentials = (request: ClientCredentialsRequest, metadata = new grpc.Metadata()) =>
    call(client.ClientCredentials, client, request, metadata);
  const exchangeToken = (request: ExchangeTokenRequest, metadata = new grpc.Metadata()) =>
    call(client.ExchangeToken, client, request, metadata);

  it("ClientCredentials with authorization: Basic metadata returns a verifiable at+jwt for the scope's audience", async () => {
    const { response, error } = await clientCredentials({ realm: REALM, scope: "orders.read" }, basic("gateway", SECRETS.gateway));
    assert.equal(error, undefined);
    assert.ok(response);
    assert.equal(response.tokenType, "Bearer");
    assert.equal(response.scope, "orders.read");
    assert.equal(response.expiresIn, "300", "int64 arrives as a string with longs: String");
    const { payload, protectedHeader } = await verify(response.accessToken, "orders-api");
    assert.equal(protectedHeader.typ, "at+jwt");
    assert.equal(payload.aud, "orders-api");
    assert.equal(payload.scope, "orders.read");
    assert.equal(payload.azp, "gateway");
    assert.equal(payload.client_id, "gateway");
    assert.equal(typeof payload.sub, "string");
    assert.notEqual(payload.sub, "gateway", "sub is the service-account user id, not the client id");
    assert.equal(payload.sid, undefined, "a client-credentials token has no sid");
  });

  it("ExchangeToken: gateway exchanges its own orders.read token for one with audience orders-api", async () => {
    const cc = await clientCredentials({ realm: REALM, scope: "orders.read" }, basic("gateway", SECRETS.gateway));
    assert.ok(cc.response);
    const subject = await verify(cc.response.accessToken);
    const { response, error } = await exchangeToken(
      {
        realm: REALM,
        subjectToken: cc.response.accessToken,
        subjectTokenType: ACCESS_TOKEN_TYPE,
        audience: ["orders-api"],
        scope: "orders.read",
      },
      basic("gateway", SECRETS.gateway),
    );
    assert.equal(error, undefined);
    assert.ok(response);
    assert.equal(response.issuedTokenType, ACCESS_TOKEN_TYPE);
    assert.equal(response.tokenType, "Bearer");
    assert.equal(response.scope, "orders.read");
    const { payload, protectedHeader } = await verify(response.accessToken, "orders-api");
    assert.equal(protectedHeader.typ, "at+jwt");
    assert.equal(payload.aud, "orders-api");
    assert.equal(payload.sub, subject.payload.sub, "the subject stays the same");
    assert.equal(payload.azp, "gateway");
    assert.equal(payload.scope, "orders.read");
    assert.ok(typeof payload.exp === "number" && payload.exp <= (subject.payload.exp ?? 0), "never outlives the subject token");
  });

  it("ClientCredentials with client_secret_post-style fields in the client message works without metadata", async () => {
    const { response, error } = await clientCredentials({
      realm: REALM,
      client: { clientId: "post-only", clientSecret: SECRETS["post-only"] },
    });
    assert.equal(error, undefined);
    assert.ok(response);
    const { payload } = await verify(response.accessToken, "post-only");
    assert.equal(payload.azp, "post-only");
    assert.equal(payload.aud, "post-only", "no scope audiences: the token is for the client itself");
    assert.equal(payload.scope, undefined);
  });

  it("wrong secret: UNAUTHENTICATED, and grpc-status-details-bin decodes to OAuthError invalid_client", async () => {
    const { response, error } = await clientCredentials({ realm: REALM }, basic("gateway", "not-the-secret"));
    assert.equal(response, undefined);
    assert.ok(error);
    assert.equal(error.code, grpc.status.UNAUTHENTICATED);
    const details = decodeStatusDetails(error);
    assert.equal(details.code, grpc.status.UNAUTHENTICATED);
    assert.deepEqual(details.detailTypes, ["type.googleapis.com/tessera.exchange.v1.OAuthError"]);
    assert.equal(details.oauth?.error, "invalid_client");
    assert.equal(details.oauth?.errorDescription, "client authentication failed");
    assert.ok(!JSON.stringify(details).includes("not-the-secret"), "the secret is never echoed");
    assert.match(String(error.metadata.get("www-authenticate")[0] ?? ""), /^Basic /, "Basic was tried: a challenge comes back");
  });

  it("a client registered for client_secret_post only, sent as Basic metadata: UNAUTHENTICATED invalid_client", async () => {
    const { error } = await clientCredentials({ realm: REALM }, basic("post-only", SECRETS["post-only"]));
    assert.ok(error);
    assert.equal(error.code, grpc.status.UNAUTHENTICATED);
    assert.equal(decodeStatusDetails(error).oauth?.error, "invalid_client");
  });

  it("a scope the client is not registered for: INVALID_ARGUMENT with detail invalid_scope", async () => {
    const { error } = await clientCredentials({ realm: REALM, scope: "orders.write admin" }, basic("gateway", SECRETS.gateway));
    assert.ok(error);
    assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
    const details = decodeStatusDetails(error);
    assert.equal(details.oauth?.error, "invalid_scope");
    assert.match(details.oauth?.errorDescription ?? "", /admin/);
  });

  it("an exchange asking for more scope than the subject token has: INVALID_ARGUMENT with detail invalid_scope", async () => {
    const cc = await clientCredentials({ realm: REALM, scope: "orders.read" }, basic("gateway", SECRETS.gateway));
    assert.ok(cc.response);
    const { error } = await exchangeToken(
      { realm: REALM, subjectToken: cc.response.accessToken, subjectTokenType: ACCESS_TOKEN_TYPE, scope: "orders.write" },
      basic("gateway", SECRETS.gateway),
    );
    assert.ok(error);
    assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(decodeStatusDetails(error).oauth?.error, "invalid_scope");
  });
});
