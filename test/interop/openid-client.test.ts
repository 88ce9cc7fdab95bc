/**
 * Interop: openid-client v6 (panva), the usual Node.js OAuth client, discovering the realm from its
 * issuer and using the token endpoint with each client authentication method Tessera accepts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as oidc from "openid-client";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, type JWTPayload } from "jose";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS, type KeyedClient } from "../support/test-realm.js";

const REALM = "interop-openid-client";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** A token endpoint request as openid-client sent it. */
interface SentRequest {
  url: string;
  headers: Headers;
  body: URLSearchParams;
}

/** Records what openid-client sends (the request is still made with the real fetch). */
function recordRequests(config: oidc.Configuration): SentRequest[] {
  const sent: SentRequest[] = [];
  config[oidc.customFetch] = (url, options) => {
    sent.push({
      url,
      headers: new Headers(options.headers),
      body: new URLSearchParams(typeof options.body === "string" ? options.body : options.body?.toString()),
    });
    return fetch(url, options as RequestInit);
  };
  return sent;
}

/** Runs `promise` and returns what it rejects with. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

describe("openid-client v6 against a Tessera realm", () => {
  let harness: TesseraHarness;
  let issuer: string;
  let batchJob: KeyedClient;
  let verify: (token: string) => Promise<JWTPayload>;

  before(async () => {
    harness = await startTessera();
    const realm = await buildTestRealm(REALM);
    batchJob = realm.batchJob;
    await harness.repository.importRealm(realm.bundle);
    issuer = harness.issuer(REALM);
    const jwks = createRemoteJWKSet(new URL(`${issuer}/protocol/openid-connect/certs`));
    verify = async (token) => {
      assert.equal(decodeProtectedHeader(token).typ, "at+jwt");
      return (await jwtVerify(token, jwks, { issuer, typ: "at+jwt" })).payload;
    };
  });

  after(async () => {
    await harness?.stop();
  });

  /** discovery() from the issuer over http (allowed for 127.0.0.1 tests only). */
  const discover = (clientId: string, clientSecret: string | undefined, auth: oidc.ClientAuth) =>
    oidc.discovery(new URL(issuer), clientId, clientSecret, auth, { execute: [oidc.allowInsecureRequests] });

  it("discovery() finds the realm's metadata: issuer, token endpoint, token-exchange grant", async () => {
    const config = await discover("gateway", SECRETS.gateway, oidc.ClientSecretBasic(SECRETS.gateway));
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, issuer);
    assert.equal(metadata.token_endpoint, harness.tokenUrl(REALM));
    assert.equal(metadata.jwks_uri, `${issuer}/protocol/openid-connect/certs`);
    assert.ok(metadata.grant_types_supported?.includes(TOKEN_EXCHANGE));
    assert.ok(metadata.grant_types_supported?.includes("client_credentials"));
    assert.deepEqual(
      [...(metadata.token_endpoint_auth_methods_supported ?? [])].sort(),
      ["client_secret_basic", "client_secret_post", "private_key_jwt"],
    );
  });

  it("ClientSecretBasic: clientCredentialsGrant then a token exchange with genericGrantRequest", async () => {
    const config = await discover("gateway", SECRETS.gateway, oidc.ClientSecretBasic(SECRETS.gateway));
    const sent = recordRequests(config);
    const cc = await oidc.clientCredentialsGrant(config, { scope: "orders.read" });
    assert.match(sent[0].headers.get("authorization") ?? "", /^Basic /);
    assert.equal(sent[0].body.get("client_secret"), null);
    assert.equal(cc.token_type.toLowerCase(), "bearer");
    assert.equal(cc.scope, "orders.read");
    assert.equal(cc.expires_in, 300);
    const subject = await verify(cc.access_token);
    assert.equal(subject.aud, "orders-api");
    assert.equal(subject.azp, "gateway");

    const exchanged = await oidc.genericGrantRequest(config, TOKEN_EXCHANGE, {
      subject_token: cc.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: "orders-api",
      scope: "orders.read",
    });
    assert.equal(exchanged.issued_token_type, ACCESS_TOKEN_TYPE);
    assert.equal(exchanged.token_type.toLowerCase(), "bearer");
    assert.equal(exchanged.scope, "orders.read");
    const payload = await verify(exchanged.access_token);
    assert.equal(payload.aud, "orders-api");
    assert.equal(payload.sub, subject.sub);
    assert.equal(payload.azp, "gateway");
    assert.equal(payload.client_id, "gateway");
    assert.equal(payload.scope, "orders.read");
  });

  it("ClientSecretPost: client_id and client_secret go in the body and a token is issued", async () => {
    const config = await discover("post-only", SECRETS["post-only"], oidc.ClientSecretPost(SECRETS["post-only"]));
    const sent = recordRequests(config);
    const cc = await oidc.clientCredentialsGrant(config);
    assert.equal(sent[0].headers.get("authorization"), null);
    assert.equal(sent[0].body.get("client_id"), "post-only");
    assert.equal(sent[0].body.get("client_secret"), SECRETS["post-only"]);
    const payload = await verify(cc.access_token);
    assert.equal(payload.azp, "post-only");
    assert.equal(payload.aud, "post-only");
  });

  it("PrivateKeyJwt: openid-client's assertion (aud = the realm issuer) authenticates batch-job", async () => {
    // The kid goes with the key ({ key, kid }); PrivateKeyJwt's second argument only takes modifyAssertion.
    const signingKey = { key: batchJob.privateKey, kid: batchJob.kid };
    const config = await discover(batchJob.clientId, undefined, oidc.PrivateKeyJwt(signingKey));
    const sent = recordRequests(config);
    const cc = await oidc.clientCredentialsGrant(config);
    const assertion = sent[0].body.get("client_assertion");
    assert.ok(assertion);
    assert.equal(sent[0].body.get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    const claims = decodeJwt(assertion);
    assert.equal(claims.aud, issuer, "openid-client 6 (oauth4webapi 3) sends the issuer identifier as aud");
    assert.equal(claims.iss, "batch-job");
    assert.equal(claims.sub, "batch-job");
    assert.equal(decodeProtectedHeader(assertion).kid, "batch-1");
    const payload = await verify(cc.access_token);
    assert.equal(payload.azp, "batch-job");
    assert.equal(payload.aud, "orders-api");
    assert.equal(payload.scope, "orders.read");

    // and the same client exchanges its token: a fresh assertion (new jti) per request
    const exchanged = await oidc.genericGrantRequest(config, TOKEN_EXCHANGE, {
      subject_token: cc.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: "orders-api",
      scope: "orders.read",
    });
    assert.notEqual(decodeJwt(sent[1].body.get("client_assertion") ?? "").jti, claims.jti);
    assert.equal((await verify(exchanged.access_token)).azp, "batch-job");
  });

  it("PrivateKeyJwt with aud = the token endpoint URL (modifyAssertion) is accepted too", async () => {
    const tokenEndpoint = harness.tokenUrl(REALM);
    const auth = oidc.PrivateKeyJwt({ key: batchJob.privateKey, kid: batchJob.kid }, {
      [oidc.modifyAssertion]: (_header, payload) => {
        payload.aud = tokenEndpoint;
      },
    });
    const config = await discover(batchJob.clientId, undefined, auth);
    const sent = recordRequests(config);
    const cc = await oidc.clientCredentialsGrant(config);
    assert.equal(decodeJwt(sent[0].body.get("client_assertion") ?? "").aud, tokenEndpoint);
    assert.equal((await verify(cc.access_token)).azp, "batch-job");
  });

  it("an assertion without a kid header is accepted: the client's JWKS has one key", async () => {
    const config = await discover(batchJob.clientId, undefined, oidc.PrivateKeyJwt(batchJob.privateKey));
    const sent = recordRequests(config);
    const cc = await oidc.clientCredentialsGrant(config);
    assert.equal(decodeProtectedHeader(sent[0].body.get("client_assertion") ?? "").kid, undefined);
    assert.equal((await verify(cc.access_token)).azp, "batch-job");
  });

  it("an assertion signed by a key that is not the client's is refused: ResponseBodyError invalid_client", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const config = await discover(batchJob.clientId, undefined, oidc.PrivateKeyJwt({ key: privateKey, kid: batchJob.kid }));
    const error = await rejectionOf(oidc.clientCredentialsGrant(config));
    assert.ok(error instanceof oidc.ResponseBodyError, `got ${String(error)}`);
    assert.equal(error.status, 401);
    assert.equal(error.error, "invalid_client");
    assert.equal(error.error_description, "client authentication failed");
  });

  it("a replayed client assertion (same jti) is refused with invalid_client", async () => {
    const config = await discover(batchJob.clientId, undefined, oidc.PrivateKeyJwt({ key: batchJob.privateKey, kid: batchJob.kid }));
    const sent = recordRequests(config);
    await oidc.clientCredentialsGrant(config);
    const replay = await fetch(sent[0].url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: sent[0].body,
    });
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as { error: string }).error, "invalid_client");
  });

  it("an audience the granted scopes do not cover surfaces as ResponseBodyError invalid_target", async () => {
    const config = await discover("gateway", SECRETS.gateway, oidc.ClientSecretBasic(SECRETS.gateway));
    const cc = await oidc.clientCredentialsGrant(config, { scope: "orders.read" });
    const error = await rejectionOf(
      oidc.genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: cc.access_token,
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: "inventory-api",
        scope: "orders.read",
      }),
    );
    assert.ok(error instanceof oidc.ResponseBodyError, `expected a ResponseBodyError, got ${String(error)}`);
    assert.equal(error.error, "invalid_target");
    assert.equal(error.status, 400);
    assert.match(error.error_description ?? "", /inventory-api/);
    assert.equal(error.response.headers.get("cache-control"), "no-store");
  });

  it("an unknown subject_token_type surfaces as ResponseBodyError invalid_request", async () => {
    const config = await discover("gateway", SECRETS.gateway, oidc.ClientSecretBasic(SECRETS.gateway));
    const error = await rejectionOf(
      oidc.genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: "whatever",
        subject_token_type: "urn:ietf:params:oauth:token-type:saml2",
      }),
    );
    assert.ok(error instanceof oidc.ResponseBodyError);
    assert.equal(error.error, "invalid_request");
    assert.match(error.error_description ?? "", /subject_token_type/);
  });

  it("a wrong Basic secret: 401 with a Basic challenge, which openid-client raises as WWWAuthenticateChallengeError", async () => {
    const config = await discover("gateway", "wrong", oidc.ClientSecretBasic("wrong"));
    const error = await rejectionOf(oidc.clientCredentialsGrant(config));
    assert.ok(error instanceof oidc.WWWAuthenticateChallengeError, `got ${String(error)}`);
    assert.equal(error.status, 401);
    assert.equal(error.cause[0]?.scheme, "basic");
    const body = (await error.response.json()) as { error: string };
    assert.equal(body.error, "invalid_client");
  });

  it("a wrong client_secret_post secret: ResponseBodyError invalid_client with status 401", async () => {
    const config = await discover("post-only", "wrong", oidc.ClientSecretPost("wrong"));
    const error = await rejectionOf(oidc.clientCredentialsGrant(config));
    assert.ok(error instanceof oidc.ResponseBodyError, `got ${String(error)}`);
    assert.equal(error.status, 401);
    assert.equal(error.error, "invalid_client");
  });
});
