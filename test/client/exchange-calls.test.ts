/**
 * @tessera/client's two ways to Tessera (Connect/gRPC and the OAuth form endpoint) against a real Tessera: each
 * client authentication method, and refusals as typed TokenExchangeErrors.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { decodeJwt } from "jose";
import { clientCredentialsParts, type ClientAuth } from "../../packages/client/src/client-auth.js";
import { connectExchange, formExchange, TokenExchangeError, type ExchangeCall } from "../../packages/client/src/index.js";
import { freePort } from "../support/ports.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS, type KeyedClient } from "../support/test-realm.js";

const REALM = "client-calls";

describe("@tessera/client exchange calls against a real Tessera", () => {
  let harness: TesseraHarness;
  let batchJob: KeyedClient;
  let session: Http2SessionManager;

  before(async () => {
    harness = await startTessera();
    const realm = await buildTestRealm(REALM);
    batchJob = realm.batchJob;
    await harness.repository.importRealm(realm.bundle);
    session = new Http2SessionManager(harness.baseUrl);
  });

  after(async () => {
    session?.abort();
    await harness?.stop();
  });

  /** A client-credentials token of the client `auth` names, over the form endpoint. */
  async function ownToken(auth: ClientAuth, scope?: string): Promise<string> {
    const credentials = await clientCredentialsParts(auth, harness.tokenUrl(REALM));
    const response = await fetch(harness.tokenUrl(REALM), {
      method: "POST",
      headers: credentials.authorization ? { authorization: credentials.authorization } : {},
      body: new URLSearchParams({ ...credentials.fields, grant_type: "client_credentials", ...(scope && { scope }) }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  const gatewayBasic: ClientAuth = { clientId: "gateway", clientSecret: SECRETS.gateway };
  const calls = (auth: ClientAuth): [string, () => ExchangeCall][] => [
    ["gRPC (connectExchange)", () => connectExchange({ transport: createGrpcTransport({ baseUrl: harness.baseUrl, sessionManager: session }), realm: REALM, auth, issuer: harness.issuer(REALM) })],
    ["Connect JSON (connectExchange)", () => connectExchange({ transport: createConnectTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1", useBinaryFormat: false }), realm: REALM, auth, issuer: harness.issuer(REALM) })],
    ["the form endpoint (formExchange)", () => formExchange({ tokenUrl: harness.tokenUrl(REALM), auth })],
  ];

  for (const [auth, name] of [
    [gatewayBasic, "client_secret_basic"],
    [{ ...gatewayBasic, method: "client_secret_post" }, "client_secret_post"],
  ] as const) {
    for (const [transport, make] of calls(auth)) {
      it(`${name} over ${transport}: a narrowed token for the audience asked`, async () => {
        const subject = await ownToken(gatewayBasic, "orders.read inventory.read");
        const result = await make()({ subjectToken: subject, audience: ["orders-api"], scope: ["orders.read"] });
        assert.equal(result.tokenType, "Bearer");
        assert.equal(result.issuedTokenType, "urn:ietf:params:oauth:token-type:access_token");
        assert.ok(result.expiresIn > 290 && result.expiresIn <= 300, `expiresIn ${result.expiresIn}`);
        assert.deepEqual(result.scope, ["orders.read"]);
        const claims = decodeJwt(result.accessToken);
        assert.equal(claims.aud, "orders-api");
        assert.equal(claims.azp, "gateway");
      });
    }
  }

  for (const transport of ["gRPC (connectExchange)", "the form endpoint (formExchange)"]) {
    it(`private_key_jwt over ${transport}: each call signs a fresh assertion (jti accepted once)`, async () => {
      const auth: ClientAuth = { method: "private_key_jwt", clientId: "batch-job", privateKey: batchJob.privateKey, alg: "ES256", kid: batchJob.kid };
      const call = calls(auth).find(([name]) => name === transport)![1]();
      const subject = await ownToken(auth);
      for (let i = 0; i < 2; i++) {
        const result = await call({ subjectToken: subject });
        assert.equal(decodeJwt(result.accessToken).azp, "batch-job");
      }
    });
  }

  for (const [transport, make] of calls({ clientId: "gateway", clientSecret: "wrong" })) {
    it(`a wrong secret over ${transport}: TokenExchangeError invalid_client, code Unauthenticated`, async () => {
      const subject = await ownToken(gatewayBasic);
      const error = await make()({ subjectToken: subject }).then(() => assert.fail("expected a refusal"), (e: unknown) => e);
      assert.ok(error instanceof TokenExchangeError);
      assert.equal(error.error, "invalid_client");
      assert.equal(error.code, Code.Unauthenticated);
      if (transport.includes("form")) assert.equal(error.httpStatus, 401);
    });
  }

  for (const [transport, make] of calls(gatewayBasic)) {
    it(`an audience the token cannot reach over ${transport}: invalid_target with its description, no token in it`, async () => {
      const subject = await ownToken(gatewayBasic, "orders.read");
      const error = await make()({ subjectToken: subject, audience: ["inventory-api"] }).then(() => assert.fail("expected a refusal"), (e: unknown) => e);
      assert.ok(error instanceof TokenExchangeError);
      assert.equal(error.error, "invalid_target");
      assert.equal(error.code, Code.InvalidArgument);
      assert.ok(error.errorDescription.length > 0);
      assert.ok(!error.message.includes(subject));
      assert.equal(error.toConnectError().code, Code.InvalidArgument);
    });
  }

  it("an unreachable Tessera: temporarily_unavailable with code Unavailable, over gRPC and the form endpoint", async () => {
    const port = await freePort();
    const down: ExchangeCall[] = [
      connectExchange({ transport: createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1" }), realm: REALM, auth: gatewayBasic }),
      formExchange({ tokenUrl: `http://127.0.0.1:${port}/realms/${REALM}/protocol/openid-connect/token`, auth: gatewayBasic }),
    ];
    for (const call of down) {
      const error = await call({ subjectToken: "x" }).then(() => assert.fail("expected a failure"), (e: unknown) => e);
      assert.ok(error instanceof TokenExchangeError);
      assert.equal(error.error, "temporarily_unavailable");
      assert.equal(error.code, Code.Unavailable);
    }
  });

  it("connectExchange with private_key_jwt and no issuer is refused at construction", () => {
    assert.throws(
      () => connectExchange({ transport: createConnectTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1" }), realm: REALM, auth: { method: "private_key_jwt", clientId: "batch-job", privateKey: batchJob.privateKey, alg: "ES256" } }),
      /needs `issuer`/,
    );
  });
});
