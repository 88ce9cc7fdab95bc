/** Resource-server verification of Tessera tokens by @tessera/client, against a real Tessera's JWKS. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeProtectedHeader } from "jose";
import { createTokenVerifier, formExchange, TokenVerificationError, type ExchangeCall } from "../../packages/client/src/index.js";
import { parseRealmDocument } from "../../src/realm-file/index.js";
import { clientCredentialsToken } from "../support/oauth-client.js";
import { freePort } from "../support/ports.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "client-verify";
const OTHER = "client-verify-other";
const SHORT = "client-verify-short";

describe("createTokenVerifier against a real Tessera", () => {
  let harness: TesseraHarness;
  let exchange: ExchangeCall;

  before(async () => {
    harness = await startTessera();
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    await harness.repository.importRealm((await buildTestRealm(OTHER)).bundle);
    await harness.repository.importRealm(
      await parseRealmDocument(`realm: ${SHORT}\naccessTokenLifespan: 3\nclients:\n  - { clientId: svc, secret: svc-secret, serviceAccount: true }\n`, `${SHORT}.yaml`),
    );
    exchange = formExchange({ tokenUrl: harness.tokenUrl(REALM), auth: { clientId: "gateway", clientSecret: SECRETS.gateway } });
  });

  after(async () => {
    await harness?.stop();
  });

  const clientToken = (realm: string, clientId: string, secret: string, scope?: string) => clientCredentialsToken(harness.tokenUrl(realm), clientId, secret, scope);

  const ordersToken = async () =>
    (await exchange({ subjectToken: await clientToken(REALM, "gateway", SECRETS.gateway, "orders.read orders.write"), audience: ["orders-api"], scope: ["orders.read"] })).accessToken;

  /** The TokenVerificationError `promise` rejects with. */
  async function refusal(promise: Promise<unknown>): Promise<TokenVerificationError> {
    const error = await promise.then(() => assert.fail("expected a refusal"), (e: unknown) => e);
    assert.ok(error instanceof TokenVerificationError, String(error));
    return error;
  }

  it("accepts an exchanged token for its audience and exposes sub, client, scopes, audience, no actors, exp", async () => {
    const verify = createTokenVerifier({ issuer: harness.issuer(REALM), audience: "orders-api", requiredScopes: ["orders.read"] });
    const verified = await verify(await ordersToken());
    assert.match(verified.subject, /.+/);
    assert.equal(verified.clientId, "gateway");
    assert.deepEqual(verified.scopes, ["orders.read"]);
    assert.deepEqual(verified.audience, ["orders-api"]);
    assert.deepEqual(verified.actors, []);
    assert.ok(verified.expiresAt.getTime() > Date.now() + 200_000);
  });

  it("refuses another audience, a missing required scope, another realm's issuer or keys, and a non-JWT", async () => {
    const token = await ordersToken();
    assert.match((await refusal(createTokenVerifier({ issuer: harness.issuer(REALM), audience: "inventory-api" })(token))).message, /token claim aud failed/);
    assert.match((await refusal(createTokenVerifier({ issuer: harness.issuer(REALM), audience: "orders-api", requiredScopes: ["orders.write"] })(token))).message, /token lacks scope orders.write/);
    const wrongIssuer = createTokenVerifier({ issuer: harness.issuer(OTHER), audience: "orders-api", jwksUrl: `${harness.issuer(REALM)}/protocol/openid-connect/certs` });
    assert.match((await refusal(wrongIssuer(token))).message, /token claim iss failed/);
    const otherKeys = createTokenVerifier({ issuer: harness.issuer(OTHER), audience: "orders-api" });
    assert.match((await refusal(otherKeys(token))).message, /key the realm does not publish/);
    const garbage = await refusal(createTokenVerifier({ issuer: harness.issuer(REALM), audience: "orders-api" })("not-a-jwt"));
    assert.match(garbage.message, /token invalid/);
    assert.equal(garbage.unavailable, false);
    assert.ok(!(await refusal(otherKeys(token))).message.includes(token));
  });

  it("refuses an ID token (typ JWT, not at+jwt, RFC 9068 §4)", async () => {
    const subject = await clientToken(REALM, "gateway", SECRETS.gateway, "orders.read");
    const idToken = (await exchange({ subjectToken: subject, requestedTokenType: "urn:ietf:params:oauth:token-type:id_token" })).accessToken;
    assert.equal(decodeProtectedHeader(idToken).typ, "JWT");
    const verify = createTokenVerifier({ issuer: harness.issuer(REALM), audience: "gateway" });
    assert.match((await refusal(verify(idToken))).message, /typ/);
  });

  it("refuses an expired token", async () => {
    const token = await clientToken(SHORT, "svc", "svc-secret");
    const verify = createTokenVerifier({ issuer: harness.issuer(SHORT), audience: "svc" });
    await verify(token);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    assert.equal((await refusal(verify(token))).message, "token expired");
  });

  it("after a key rotation, a token with the new kid is accepted: the JWKS is fetched again for the unknown kid", async () => {
    const verify = createTokenVerifier({ issuer: harness.issuer(REALM), audience: "orders-api", jwksCooldownMs: 0 });
    const before = await ordersToken();
    await verify(before);
    const admin = (await harness.adminCaller()).admin();
    const { active } = await admin.rotateSigningKey({ realm: REALM });
    const afterRotation = await ordersToken();
    assert.equal(decodeProtectedHeader(afterRotation).kid, active?.kid);
    assert.notEqual(decodeProtectedHeader(before).kid, active?.kid);
    assert.equal((await verify(afterRotation)).clientId, "gateway");
    assert.equal((await verify(before)).clientId, "gateway", "the passive key still verifies");
  });

  it("an unreachable JWKS is `unavailable`, not a bad token", async () => {
    const port = await freePort();
    const verify = createTokenVerifier({ issuer: harness.issuer(REALM), audience: "orders-api", jwksUrl: `http://127.0.0.1:${port}/certs` });
    const error = await refusal(verify(await ordersToken()));
    assert.equal(error.unavailable, true);
    assert.equal(error.message, "the realm JWKS could not be fetched");
  });
});
