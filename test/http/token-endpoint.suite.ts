import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { clientAssertion, headerOf, postForm, verifyWithJwks, type TokenAnswer } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { TestClock } from "../support/test-clock.js";
import { SECRETS, buildTestRealm, type TestRealm } from "../support/test-realm.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Opens a repository on the storage under test; called once per harness (each is a separate instance). */
export type OpenRepository = () => Promise<RealmRepository>;

/** Asserts an OAuth error answer: status, `error`, no-store, and a description that leaks nothing. */
function assertOAuthError(answer: TokenAnswer, status: number, error: string, leaks: string[] = []): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error, error, JSON.stringify(answer.body));
  assert.equal(typeof answer.body.error_description, "string");
  assert.equal(answer.headers.get("cache-control"), "no-store");
  assert.equal(answer.headers.get("pragma"), "no-cache");
  for (const secret of leaks) assert.ok(!JSON.stringify(answer.body).includes(secret), "error body echoes a secret or token");
}

/**
 * The token endpoint's rules, over real HTTP, for one storage adapter: client authentication,
 * client credentials, and internal-to-internal token exchange (EXCHANGE.md kind 1).
 */
export function runTokenEndpointSuite(storage: string, openRepository: OpenRepository): void {
  describe(`token endpoint on ${storage} storage`, () => {
    let tessera: TesseraHarness;
    let realm: TestRealm;
    let realmName: string;
    const clock = new TestClock();
    const masterKey = randomBytes(32);
    let url: string;
    let issuer: string;

    before(async () => {
      // This suite fails client authentication on purpose; throttling of it is tested in auth-throttle.test.ts.
      tessera = await startTessera({ repository: await openRepository(), clock, masterKey, authThrottle: { enabled: false } });
      realmName = `t-${randomUUID().slice(0, 8)}`;
      realm = await buildTestRealm(realmName);
      await tessera.repository.importRealm(realm.bundle);
      url = tessera.tokenUrl(realmName);
      issuer = tessera.issuer(realmName);
    });
    after(async () => {
      await tessera.stop();
      await tessera.repository.close();
    });
    beforeEach(() => clock.reset());

    const clientCredentials = (clientId: keyof typeof SECRETS, scope?: string) =>
      postForm(url, { grant_type: "client_credentials", ...(scope && { scope }) }, { basic: [clientId, SECRETS[clientId]] });

    async function serviceToken(clientId: keyof typeof SECRETS, scope?: string): Promise<string> {
      const answer = await clientCredentials(clientId, scope);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.access_token as string;
    }

    const exchange = (clientId: keyof typeof SECRETS, subjectToken: string, extra: [string, string][] = []) =>
      postForm(
        url,
        [["grant_type", TOKEN_EXCHANGE], ["subject_token", subjectToken], ["subject_token_type", ACCESS_TOKEN], ...extra],
        { basic: [clientId, SECRETS[clientId]] },
      );

    describe("client credentials", () => {
      it("client_credentials with a scope then a JWKS-verifiable RFC 9068 token for the scope's audience", async () => {
        const answer = await clientCredentials("gateway", "orders.read");
        assert.equal(answer.status, 200);
        assert.equal(answer.body.token_type, "Bearer");
        assert.equal(answer.body.scope, "orders.read");
        assert.equal(answer.body.expires_in, 300);
        assert.equal(answer.headers.get("cache-control"), "no-store");
        assert.equal(answer.headers.get("pragma"), "no-cache");
        const token = answer.body.access_token as string;
        assert.equal(headerOf(token).typ, "at+jwt");
        const claims = await verifyWithJwks(token, issuer);
        const gateway = realm.bundle.clients.find((c) => c.clientId === "gateway");
        assert.equal(claims.sub, gateway?.serviceAccountUserId);
        assert.equal(claims.client_id, "gateway");
        assert.equal(claims.azp, "gateway");
        assert.equal(claims.aud, "orders-api");
        assert.equal(claims.scope, "orders.read");
        assert.equal(claims.sid, undefined);
        assert.ok(typeof claims.jti === "string" && claims.exp === (claims.iat ?? 0) + 300);
      });

      it("client_credentials twice then the same service-account sub", async () => {
        const [a, b] = await Promise.all([serviceToken("gateway"), serviceToken("gateway")]);
        assert.equal((await verifyWithJwks(a, issuer)).sub, (await verifyWithJwks(b, issuer)).sub);
      });

      it("client_credentials without scope then the default scopes and the client itself as audience", async () => {
        const answer = await clientCredentials("gateway");
        assert.equal(answer.body.scope, "profile");
        const claims = await verifyWithJwks(answer.body.access_token as string, issuer);
        assert.equal(claims.aud, "gateway");
      });

      it("client_credentials with two scopes of two audiences then both audiences", async () => {
        const claims = await verifyWithJwks(await serviceToken("gateway", "orders.read inventory.read"), issuer);
        assert.deepEqual([...(claims.aud as string[])].sort(), ["inventory-api", "orders-api"]);
      });

      it("client_credentials with a scope outside the client's scopes then invalid_scope", async () => {
        assertOAuthError(await clientCredentials("no-exchange", "orders.write"), 400, "invalid_scope");
      });

      it("client_credentials with an unknown scope then invalid_scope", async () => {
        assertOAuthError(await clientCredentials("gateway", "nope"), 400, "invalid_scope");
      });

      it("client_credentials with a malformed scope then invalid_scope", async () => {
        assertOAuthError(await clientCredentials("gateway", 'orders"read'), 400, "invalid_scope");
      });

      it("client_credentials by a client without service account then unauthorized_client", async () => {
        assertOAuthError(await clientCredentials("no-service-account"), 400, "unauthorized_client");
      });

      it("client_credentials by a public client then unauthorized_client", async () => {
        const answer = await postForm(url, { grant_type: "client_credentials", client_id: "cli" });
        assertOAuthError(answer, 400, "unauthorized_client");
      });
    });

    describe("client authentication", () => {
      it("wrong secret with Basic then 401 invalid_client with WWW-Authenticate", async () => {
        const answer = await postForm(url, { grant_type: "client_credentials" }, { basic: ["gateway", "wrong-secret"] });
        assertOAuthError(answer, 401, "invalid_client", ["wrong-secret"]);
        assert.match(answer.headers.get("www-authenticate") ?? "", /^Basic /);
      });

      it("unknown client, wrong secret and disabled client then the same invalid_client description", async () => {
        const unknown = await postForm(url, { grant_type: "client_credentials" }, { basic: ["nobody", "x"] });
        const wrong = await postForm(url, { grant_type: "client_credentials" }, { basic: ["gateway", "x"] });
        const disabled = await clientCredentials("retired");
        for (const answer of [unknown, wrong, disabled]) assertOAuthError(answer, 401, "invalid_client");
        assert.equal(unknown.body.error_description, wrong.body.error_description);
        assert.equal(disabled.body.error_description, wrong.body.error_description);
      });

      it("client_secret_post then a token", async () => {
        const answer = await postForm(url, { grant_type: "client_credentials", client_id: "gateway", client_secret: SECRETS.gateway });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
      });

      it("wrong secret in the body then 401 invalid_client without WWW-Authenticate Basic", async () => {
        const answer = await postForm(url, { grant_type: "client_credentials", client_id: "gateway", client_secret: "nope" });
        assertOAuthError(answer, 401, "invalid_client", ["nope"]);
      });

      it("a client registered for client_secret_post only using Basic then invalid_client", async () => {
        assertOAuthError(await clientCredentials("post-only"), 401, "invalid_client");
        const post = await postForm(url, { grant_type: "client_credentials", client_id: "post-only", client_secret: SECRETS["post-only"] });
        assert.equal(post.status, 200);
      });

      it("Basic and client_secret in the body together then invalid_client", async () => {
        const answer = await postForm(
          url,
          { grant_type: "client_credentials", client_id: "gateway", client_secret: SECRETS.gateway },
          { basic: ["gateway", SECRETS.gateway] },
        );
        assertOAuthError(answer, 401, "invalid_client");
      });

      it("Basic with a client_id in the body naming another client then invalid_client", async () => {
        const answer = await postForm(url, { grant_type: "client_credentials", client_id: "orders-api" }, { basic: ["gateway", SECRETS.gateway] });
        assertOAuthError(answer, 401, "invalid_client");
      });

      it("a malformed Basic header then invalid_client", async () => {
        const answer = await postForm(url, { grant_type: "client_credentials" }, { headers: { authorization: "Basic !!!" } });
        assertOAuthError(answer, 401, "invalid_client");
      });

      it("Basic with form-urlencoded id and secret then they are decoded (RFC 6749 §2.3.1)", async () => {
        const encoded = Buffer.from(`gateway:${encodeURIComponent(SECRETS.gateway)}`).toString("base64");
        const answer = await postForm(url, { grant_type: "client_credentials" }, { headers: { authorization: `Basic ${encoded}` } });
        assert.equal(answer.status, 200);
      });

      it("no client authentication at all then invalid_client", async () => {
        assertOAuthError(await postForm(url, { grant_type: "client_credentials" }), 401, "invalid_client");
      });

      it("a confidential client sending client_id alone then invalid_client", async () => {
        assertOAuthError(await postForm(url, { grant_type: "client_credentials", client_id: "gateway" }), 401, "invalid_client");
      });

      describe("private_key_jwt", () => {
        const withAssertion = (assertion: string, extra: Record<string, string> = {}) =>
          postForm(url, { grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: assertion, ...extra });

        it("a valid assertion with the token endpoint as aud then a token", async () => {
          const answer = await withAssertion(await clientAssertion(realm.batchJob, url));
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          assert.equal((await verifyWithJwks(answer.body.access_token as string, issuer)).client_id, "batch-job");
        });

        it("a valid assertion with the issuer as aud then a token", async () => {
          assert.equal((await withAssertion(await clientAssertion(realm.batchJob, issuer))).status, 200);
        });

        it("the same assertion twice then the second is invalid_client (jti accepted once)", async () => {
          const assertion = await clientAssertion(realm.batchJob, url);
          assert.equal((await withAssertion(assertion)).status, 200);
          assertOAuthError(await withAssertion(assertion), 401, "invalid_client", [assertion]);
        });

        it("the same assertion at a second instance on the same storage then invalid_client", async () => {
          // A second instance behind the same public URL, with its own connection to the same storage.
          const second = await startTessera({ repository: await openRepository(), clock, masterKey, publicUrl: tessera.baseUrl });
          try {
            const secondUrl = second.tokenUrl(realmName);
            const fresh = await clientAssertion(realm.batchJob, issuer);
            const atSecond = await postForm(secondUrl, { grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: fresh });
            assert.equal(atSecond.status, 200, "the second instance accepts a fresh assertion");
            const assertion = await clientAssertion(realm.batchJob, issuer);
            assert.equal((await withAssertion(assertion)).status, 200);
            const replay = await postForm(secondUrl, { grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: assertion });
            assertOAuthError(replay, 401, "invalid_client");
          } finally {
            await second.stop();
            await second.repository.close();
          }
        });

        it("an assertion for another audience then invalid_client", async () => {
          assertOAuthError(await withAssertion(await clientAssertion(realm.batchJob, "https://elsewhere.example.com/token")), 401, "invalid_client");
        });

        it("an assertion that expired then invalid_client", async () => {
          const now = Math.floor(Date.now() / 1000);
          assertOAuthError(await withAssertion(await clientAssertion(realm.batchJob, url, { iat: now - 600, exp: now - 300 })), 401, "invalid_client");
        });

        it("an assertion valid for an hour then invalid_client (exp must be near)", async () => {
          const now = Math.floor(Date.now() / 1000);
          assertOAuthError(await withAssertion(await clientAssertion(realm.batchJob, url, { exp: now + 3600 })), 401, "invalid_client");
        });

        it("an assertion without jti then invalid_client", async () => {
          assertOAuthError(await withAssertion(await clientAssertion(realm.batchJob, url, { jti: undefined })), 401, "invalid_client");
        });

        it("an assertion signed by a key the client does not have then invalid_client", async () => {
          const other = await generateKeyPair("ES256");
          const forged = await clientAssertion(realm.batchJob, url, {}, { privateKey: other.privateKey, kid: "batch-1" });
          assertOAuthError(await withAssertion(forged), 401, "invalid_client");
        });

        it("an unsigned assertion (alg none) then invalid_client", async () => {
          const unsigned = new UnsecuredJWT({ jti: randomUUID() }).setIssuer("batch-job").setSubject("batch-job").setAudience(url).setExpirationTime("1m").encode();
          assertOAuthError(await withAssertion(unsigned), 401, "invalid_client");
        });

        it("an assertion whose iss differs from sub then invalid_client", async () => {
          assertOAuthError(await withAssertion(await clientAssertion(realm.batchJob, url, { iss: "gateway" })), 401, "invalid_client");
        });

        it("a wrong client_assertion_type then invalid_client", async () => {
          const answer = await postForm(url, { grant_type: "client_credentials", client_assertion_type: "urn:other", client_assertion: await clientAssertion(realm.batchJob, url) });
          assertOAuthError(answer, 401, "invalid_client");
        });

        it("a garbage assertion then invalid_client", async () => {
          assertOAuthError(await withAssertion("not.a.jwt"), 401, "invalid_client");
        });

        it("a client with a jwksUri then its assertion verifies with the keys served there", async () => {
          const keys = await generateKeyPair("ES256");
          const jwk = { ...(await exportJWK(keys.publicKey)), kid: "remote-1", alg: "ES256", use: "sig" };
          const jwksServer = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
          await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
          try {
            const { port } = jwksServer.address() as AddressInfo;
            const template = realm.bundle.clients.find((c) => c.clientId === "batch-job");
            assert.ok(template);
            await tessera.repository.createClient(realmName, { ...template, clientId: "remote-keys", jwks: undefined, jwksUri: `http://127.0.0.1:${port}/jwks` });
            const remote = { clientId: "remote-keys", kid: "remote-1", privateKey: keys.privateKey };
            assert.equal((await withAssertion(await clientAssertion(remote, url))).status, 200);
            const other = await generateKeyPair("ES256");
            assertOAuthError(await withAssertion(await clientAssertion(remote, url, {}, { privateKey: other.privateKey, kid: "remote-1" })), 401, "invalid_client");
          } finally {
            jwksServer.close();
          }
        });

        it("a secret-based client presenting an assertion then invalid_client", async () => {
          const assertion = await clientAssertion({ ...realm.batchJob, clientId: "gateway" }, url);
          assertOAuthError(await withAssertion(assertion), 401, "invalid_client");
        });
      });
    });

    describe("token exchange, internal to internal", () => {
      it("exchange with an audience then a token for that audience, same subject, requester as azp", async () => {
        const subject = await serviceToken("gateway", "orders.read inventory.read");
        const answer = await exchange("gateway", subject, [["audience", "orders-api"], ["scope", "orders.read"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.issued_token_type, ACCESS_TOKEN);
        assert.equal(answer.body.token_type, "Bearer");
        assert.equal(answer.body.scope, "orders.read");
        assert.equal(answer.headers.get("cache-control"), "no-store");
        const issued = await verifyWithJwks(answer.body.access_token as string, issuer);
        const original = await verifyWithJwks(subject, issuer);
        assert.equal(issued.sub, original.sub);
        assert.equal(issued.aud, "orders-api");
        assert.equal(issued.azp, "gateway");
        assert.equal(issued.client_id, "gateway");
        assert.notEqual(issued.jti, original.jti);
        assert.equal(answer.body.refresh_token, undefined);
      });

      it("exchange without scope under downscope then the subject token's scopes the requester may hold", async () => {
        const subject = await serviceToken("gateway", "orders.read inventory.read");
        const answer = await exchange("gateway", subject);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.deepEqual((answer.body.scope as string).split(" ").sort(), ["inventory.read", "orders.read"]);
      });

      it("exchange with an audience and no scope then only the scopes meant for that audience", async () => {
        const subject = await serviceToken("gateway", "orders.read inventory.read profile");
        const answer = await exchange("gateway", subject, [["audience", "orders-api"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.deepEqual((answer.body.scope as string).split(" ").sort(), ["orders.read", "profile"]);
      });

      it("exchange without scope under the requester policy then the requester's default scopes", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const answer = await exchange("orders-api", subject);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.scope, "profile");
      });

      it("exchange asking for a scope the subject token lacks under downscope then invalid_scope", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        assertOAuthError(await exchange("gateway", subject, [["scope", "orders.write"]]), 400, "invalid_scope");
      });

      it("exchange asking for a scope outside the requester's scopes then invalid_scope", async () => {
        const subject = await serviceToken("gateway", "orders.read orders.write");
        const answer = await exchange("orders-api", subject, [["scope", "orders.write"]]);
        assertOAuthError(answer, 400, "invalid_scope");
      });

      it("exchange by a requester in the subject's aud under the requester policy then the requester's scope", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const answer = await exchange("orders-api", subject, [["scope", "inventory.read"], ["audience", "inventory-api"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const issued = await verifyWithJwks(answer.body.access_token as string, issuer);
        assert.equal(issued.scope, "inventory.read");
        assert.equal(issued.aud, "inventory-api");
        assert.equal(issued.azp, "orders-api");
      });

      it("exchange by a client the subject token was not issued to or for then invalid_request (no confused deputy)", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const answer = await exchange("inventory-api", subject);
        assertOAuthError(answer, 400, "invalid_request", [subject]);
        assert.match(answer.body.error_description as string, /not issued to or for this client/);
      });

      it("exchange by a client without token exchange permission then unauthorized_client", async () => {
        const subject = await serviceToken("no-exchange", "orders.read");
        assertOAuthError(await exchange("no-exchange", subject), 400, "unauthorized_client");
      });

      it("exchange with a resource then the client registered for it as audience", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const answer = await exchange("gateway", subject, [["resource", "https://orders.example.com"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal((await verifyWithJwks(answer.body.access_token as string, issuer)).aud, "orders-api");
      });

      it("exchange with two audiences then both, and repeated audience is not a duplicate parameter", async () => {
        const subject = await serviceToken("gateway", "orders.read inventory.read");
        const answer = await exchange("gateway", subject, [["audience", "orders-api"], ["audience", "inventory-api"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const aud = (await verifyWithJwks(answer.body.access_token as string, issuer)).aud as string[];
        assert.deepEqual([...aud].sort(), ["inventory-api", "orders-api"]);
      });

      it("exchange without audience then every audience of the granted scopes", async () => {
        const subject = await serviceToken("gateway", "orders.read inventory.read");
        const answer = await exchange("gateway", subject, [["scope", "orders.read inventory.read"]]);
        const aud = (await verifyWithJwks(answer.body.access_token as string, issuer)).aud as string[];
        assert.deepEqual([...aud].sort(), ["inventory-api", "orders-api"]);
      });

      it("exchange with an audience no granted scope covers then invalid_target", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        assertOAuthError(await exchange("gateway", subject, [["audience", "inventory-api"]]), 400, "invalid_target");
      });

      it("exchange with an unknown audience then invalid_target", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        assertOAuthError(await exchange("gateway", subject, [["audience", "billing-api"]]), 400, "invalid_target");
      });

      it("exchange with a relative, fragment or unknown resource then invalid_target", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        for (const resource of ["/orders", "https://orders.example.com#x", "https://unknown.example.com"]) {
          assertOAuthError(await exchange("gateway", subject, [["resource", resource]]), 400, "invalid_target");
        }
      });

      it("exchange for an id_token then token_type N_A and an ID token for the requester", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const answer = await exchange("gateway", subject, [["requested_token_type", ID_TOKEN]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.token_type, "N_A");
        assert.equal(answer.body.issued_token_type, ID_TOKEN);
        const claims = await verifyWithJwks(answer.body.access_token as string, issuer, "JWT");
        assert.equal(claims.aud, "gateway");
      });

      it("exchange for a refresh_token by a client without refresh tokens then unauthorized_client", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const answer = await exchange("gateway", subject, [["requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"]]);
        assertOAuthError(answer, 400, "unauthorized_client");
      });

      it("exchange for a saml2 or unknown token type then invalid_request requested_token_type unsupported", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        for (const type of ["urn:ietf:params:oauth:token-type:saml2", "urn:example:whatever"]) {
          const answer = await exchange("gateway", subject, [["requested_token_type", type]]);
          assertOAuthError(answer, 400, "invalid_request");
          assert.equal(answer.body.error_description, "requested_token_type unsupported");
        }
      });

      it("exchange when subject token expired then invalid_request", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        clock.advance(400);
        const answer = await exchange("gateway", subject);
        assertOAuthError(answer, 400, "invalid_request", [subject]);
        assert.match(answer.body.error_description as string, /expired/);
      });

      it("exchange at the subject token's exp then invalid_request: no leeway on the realm's own tokens", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const { exp } = decodeJwt(subject);
        clock.advance(exp! - clock.now().getTime() / 1000 - 1.5);
        assert.equal((await exchange("gateway", subject)).status, 200);
        clock.advance(1.55);
        const answer = await exchange("gateway", subject);
        assertOAuthError(answer, 400, "invalid_request", [subject]);
        assert.match(answer.body.error_description as string, /expired/);
      });

      it("exchanged token then it never outlives its subject token", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        clock.advance(200);
        const answer = await exchange("gateway", subject);
        const issued = await verifyWithJwks(answer.body.access_token as string, issuer, "at+jwt");
        const original = await verifyWithJwks(subject, issuer);
        assert.equal(issued.exp, original.exp);
        assert.ok((answer.body.expires_in as number) <= 100);
      });

      it("exchange with a garbage, unsigned, foreign-key or foreign-realm subject token then invalid_request", async () => {
        const foreignKey = await generateKeyPair("ES256");
        const base = { sub: "x", azp: "gateway", jti: "j", scope: "orders.read" };
        const candidates = [
          "garbage",
          new UnsecuredJWT(base).setIssuer(issuer).setIssuedAt().setExpirationTime("1m").encode(),
          await new SignJWT(base).setProtectedHeader({ alg: "ES256", typ: "at+jwt" }).setIssuer(issuer).setIssuedAt().setExpirationTime("1m").sign(foreignKey.privateKey),
        ];
        for (const token of candidates) assertOAuthError(await exchange("gateway", token), 400, "invalid_request", [token]);
      });

      it("exchange with an id_token as subject then invalid_request (wrong typ)", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const id = (await exchange("gateway", subject, [["requested_token_type", ID_TOKEN]])).body.access_token as string;
        assertOAuthError(await exchange("gateway", id), 400, "invalid_request");
      });

      it("exchange with a token of another realm then invalid_request", async () => {
        const otherName = `o-${randomUUID().slice(0, 8)}`;
        await tessera.repository.importRealm((await buildTestRealm(otherName)).bundle);
        const foreign = await postForm(tessera.tokenUrl(otherName), { grant_type: "client_credentials", scope: "orders.read" }, { basic: ["gateway", SECRETS.gateway] });
        assertOAuthError(await exchange("gateway", foreign.body.access_token as string), 400, "invalid_request");
      });

      it("exchange without subject_token or subject_token_type then invalid_request", async () => {
        const noToken = await postForm(url, { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN }, { basic: ["gateway", SECRETS.gateway] });
        assertOAuthError(noToken, 400, "invalid_request");
        const subject = await serviceToken("gateway", "orders.read");
        const noType = await postForm(url, { grant_type: TOKEN_EXCHANGE, subject_token: subject }, { basic: ["gateway", SECRETS.gateway] });
        assertOAuthError(noType, 400, "invalid_request");
      });

      it("exchange with an unsupported subject_token_type then invalid_request", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const answer = await postForm(url, { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: "urn:ietf:params:oauth:token-type:saml2" }, { basic: ["gateway", SECRETS.gateway] });
        assertOAuthError(answer, 400, "invalid_request");
      });

      it("actor_token without actor_token_type then invalid_request", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        assertOAuthError(await exchange("gateway", subject, [["actor_token", subject]]), 400, "invalid_request");
      });

      it("delegation, impersonation or identity provider parameters by a client without that permission then unauthorized_client", async () => {
        // gateway has token exchange but neither delegation nor impersonation rights.
        const subject = await serviceToken("gateway", "orders.read");
        const extras: [string, string][][] = [
          [["actor_token", subject], ["actor_token_type", ACCESS_TOKEN]],
          [["requested_subject", "alice"]],
          [["subject_issuer", "github"]],
          [["requested_issuer", "github"]],
        ];
        for (const extra of extras) assertOAuthError(await exchange("gateway", subject, extra), 400, "unauthorized_client");
      });

      it("a public client by client_id alone exchanging a token meant for it then a token", async () => {
        const subject = await serviceToken("gateway", "cli.use profile");
        const answer = await postForm(url, { grant_type: TOKEN_EXCHANGE, client_id: "cli", subject_token: subject, subject_token_type: ACCESS_TOKEN, scope: "profile" });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const issued = await verifyWithJwks(answer.body.access_token as string, issuer);
        assert.equal(issued.azp, "cli");
        assert.equal(issued.scope, "profile");
      });

      it("a public client exchanging a token not meant for it then invalid_request", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const answer = await postForm(url, { grant_type: TOKEN_EXCHANGE, client_id: "cli", subject_token: subject, subject_token_type: ACCESS_TOKEN });
        assertOAuthError(answer, 400, "invalid_request");
      });

      it("a public client sending a secret then invalid_client", async () => {
        const subject = await serviceToken("gateway", "cli.use");
        const answer = await postForm(url, { grant_type: TOKEN_EXCHANGE, client_id: "cli", client_secret: "guess", subject_token: subject, subject_token_type: ACCESS_TOKEN });
        assertOAuthError(answer, 401, "invalid_client");
      });

      it("an exchanged token then it can be exchanged again by the client it is for", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const first = await exchange("gateway", subject, [["audience", "orders-api"]]);
        const second = await exchange("orders-api", first.body.access_token as string, [["scope", "profile"]]);
        assert.equal(second.status, 200, JSON.stringify(second.body));
        assert.equal((await verifyWithJwks(second.body.access_token as string, issuer)).azp, "orders-api");
      });
    });

    describe("malformed requests", () => {
      it("a parameter given twice then invalid_request", async () => {
        const answer = await postForm(url, [["grant_type", "client_credentials"], ["scope", "a"], ["scope", "b"]], { basic: ["gateway", SECRETS.gateway] });
        assertOAuthError(answer, 400, "invalid_request");
      });

      it("a JSON body then invalid_request", async () => {
        const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: "client_credentials" }) });
        assert.equal(response.status, 400);
        assert.equal(((await response.json()) as { error: string }).error, "invalid_request");
      });

      it("a body over the limit then 413", async () => {
        const response = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=client_credentials&x=${"a".repeat(100_000)}` });
        assert.equal(response.status, 413);
        assert.equal(((await response.json()) as { error: string }).error, "invalid_request");
      });

      it("an unknown grant_type then unsupported_grant_type", async () => {
        assertOAuthError(await postForm(url, { grant_type: "password" }, { basic: ["gateway", SECRETS.gateway] }), 400, "unsupported_grant_type");
      });

      it("no grant_type then invalid_request", async () => {
        assertOAuthError(await postForm(url, { scope: "x" }, { basic: ["gateway", SECRETS.gateway] }), 400, "invalid_request");
      });

      it("an unknown realm then 404 with a JSON error body", async () => {
        const answer = await postForm(tessera.tokenUrl("no-such-realm"), { grant_type: "client_credentials" }, { basic: ["gateway", SECRETS.gateway] });
        assert.equal(answer.status, 404);
        assert.equal(answer.body.error, "not_found");
        const certs = await fetch(`${tessera.issuer("no-such-realm")}/protocol/openid-connect/certs`);
        assert.equal(certs.status, 404);
      });

      it("GET on the token endpoint then 405", async () => {
        const response = await fetch(url);
        assert.equal(response.status, 405);
      });

      it("an unknown path then 404 with a JSON error body", async () => {
        const response = await fetch(`${tessera.baseUrl}/nowhere`);
        assert.equal(response.status, 404);
        assert.equal(response.headers.get("content-type"), "application/json");
      });

      it("invalid UTF-8 or percent-encoding in the body then a 4xx, never a 500", async () => {
        for (const body of [Buffer.from([0x67, 0x3d, 0xff, 0xfe]), "grant_type=%E0%A4%A&scope=%"]) {
          const response = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
          assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
        }
      });
    });

    describe("keys and metadata", () => {
      it("JWKS then public keys only, each with kid and alg", async () => {
        const jwks = (await (await fetch(`${issuer}/protocol/openid-connect/certs`)).json()) as { keys: Record<string, unknown>[] };
        assert.ok(jwks.keys.length >= 1);
        for (const key of jwks.keys) {
          assert.equal(key.d, undefined);
          assert.ok(key.kid && key.alg);
        }
      });

      it("private keys in storage then encrypted, not plain JWKs", async () => {
        await serviceToken("gateway");
        const keys = await tessera.repository.listSigningKeys(realmName);
        assert.ok(keys.length >= 1);
        for (const key of keys) {
          assert.equal(key.encryptedPrivateJwk.split(".").length, 5, "a compact JWE");
          assert.ok(!key.encryptedPrivateJwk.includes('"d"'));
        }
      });
    });
  });
}
