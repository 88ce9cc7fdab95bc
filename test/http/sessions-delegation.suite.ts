import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Client as RpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { OAuthErrorSchema, TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { postForm, verifyWithJwks, type TokenAnswer } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { TestClock } from "../support/test-clock.js";
import { SECRETS, buildTestRealm, type TestRealm } from "../support/test-realm.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const REFRESH_TOKEN = "urn:ietf:params:oauth:token-type:refresh_token";

type ClientId = keyof typeof SECRETS;

/** Opens a repository on the storage under test; each call is another instance on the same storage. */
export type OpenRepository = () => Promise<RealmRepository>;

function assertError(answer: TokenAnswer, status: number, error: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error, error, JSON.stringify(answer.body));
}

/**
 * Impersonation, delegation, sessions, refresh tokens, introspection, revocation, logout and
 * audit events (EXCHANGE.md kinds 2 and 3), over real HTTP and gRPC, for one storage adapter.
 */
export function runSessionsDelegationSuite(storage: string, openRepository: OpenRepository): void {
  describe(`sessions and delegation on ${storage} storage`, () => {
    let tessera: TesseraHarness;
    let second: TesseraHarness;
    let realm: TestRealm;
    let realmName: string;
    const clock = new TestClock();
    let url: string;
    let issuer: string;
    let admin: RpcClient<typeof AdminService>;

    before(async () => {
      const masterKey = randomBytes(32);
      tessera = await startTessera({ repository: await openRepository(), clock, masterKey });
      // A second instance behind the same public URL, with its own connection to the same storage.
      second = await startTessera({ repository: await openRepository(), clock, masterKey, publicUrl: tessera.baseUrl });
      realmName = `s-${randomUUID().slice(0, 8)}`;
      realm = await buildTestRealm(realmName);
      await tessera.repository.importRealm(realm.bundle);
      url = tessera.tokenUrl(realmName);
      issuer = tessera.issuer(realmName);
      admin = (await tessera.adminCaller()).admin("grpc");
    });
    after(async () => {
      for (const harness of [tessera, second]) {
        await harness.stop();
        await harness.repository.close();
      }
    });
    beforeEach(() => clock.reset());

    const basic = (clientId: ClientId): { basic: [string, string] } => ({ basic: [clientId, SECRETS[clientId]] });
    const endpoint = (path: string, harness = tessera) => `${harness.issuer(realmName)}/protocol/openid-connect/${path}`;
    const serviceAccountOf = (clientId: string) => realm.bundle.clients.find((c) => c.clientId === clientId)?.serviceAccountUserId;
    const userId = (username: string) => realm.bundle.users.find((u) => u.username === username)?.id;

    async function serviceToken(clientId: ClientId, scope?: string): Promise<string> {
      const answer = await postForm(url, { grant_type: "client_credentials", ...(scope && { scope }) }, basic(clientId));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.access_token as string;
    }

    const exchange = (clientId: ClientId, subjectToken: string, extra: [string, string][] = [], target = url) =>
      postForm(target, [["grant_type", TOKEN_EXCHANGE], ["subject_token", subjectToken], ["subject_token_type", ACCESS_TOKEN], ...extra], basic(clientId));

    /** impersonator impersonates alice: an access token for orders-api and a refresh token. */
    async function impersonateAlice(scope = "orders.read"): Promise<{ access: string; refresh: string; sid: string }> {
      const own = await serviceToken("impersonator", scope);
      const answer = await exchange("impersonator", own, [["requested_subject", "alice"], ["scope", scope]]);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const claims = await verifyWithJwks(answer.body.access_token as string, issuer);
      return { access: answer.body.access_token as string, refresh: answer.body.refresh_token as string, sid: claims.sid as string };
    }

    const refresh = (clientId: ClientId, refreshToken: string, extra: Record<string, string> = {}, target = url) =>
      postForm(target, { grant_type: "refresh_token", refresh_token: refreshToken, ...extra }, basic(clientId));
    const introspect = (token: string, clientId: ClientId = "orders-api", harness = tessera) =>
      postForm(endpoint("token/introspect", harness), { token }, basic(clientId));
    const revoke = (clientId: ClientId, token: string) => postForm(endpoint("revoke"), { token }, basic(clientId));

    describe("impersonation", () => {
      it("requested_subject by username for an allowed user then sub is the user, act names the caller, and a session starts", async () => {
        const own = await serviceToken("impersonator", "orders.read");
        const answer = await exchange("impersonator", own, [["requested_subject", "alice"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const claims = await verifyWithJwks(answer.body.access_token as string, issuer);
        assert.equal(claims.sub, userId("alice"));
        assert.deepEqual(claims.act, { sub: serviceAccountOf("impersonator"), client_id: "impersonator" });
        assert.equal(claims.azp, "impersonator");
        assert.equal(typeof claims.sid, "string");
        const session = await tessera.repository.getSession(realmName, claims.sid as string);
        assert.equal(session?.userId, userId("alice"));
        assert.equal(session?.clientId, "impersonator");
      });

      it("requested_subject by user id then the same user", async () => {
        const own = await serviceToken("impersonator", "orders.read");
        const answer = await exchange("impersonator", own, [["requested_subject", userId("alice") ?? ""]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal((await verifyWithJwks(answer.body.access_token as string, issuer)).sub, userId("alice"));
      });

      it("requested_subject for a user outside the client's list then unauthorized_client", async () => {
        const own = await serviceToken("impersonator", "orders.read");
        assertError(await exchange("impersonator", own, [["requested_subject", "bob"]]), 400, "unauthorized_client");
      });

      it("an attribute policy then users with the value only", async () => {
        const own = await serviceToken("impersonate-sales");
        assert.equal((await exchange("impersonate-sales", own, [["requested_subject", "alice"]])).status, 200);
        assertError(await exchange("impersonate-sales", own, [["requested_subject", "bob"]]), 400, "unauthorized_client");
      });

      it("an all-users policy then any enabled user", async () => {
        const own = await serviceToken("impersonate-all");
        const answer = await exchange("impersonate-all", own, [["requested_subject", "bob"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal((await verifyWithJwks(answer.body.access_token as string, issuer)).sub, userId("bob"));
      });

      it("an unknown or disabled user then invalid_request", async () => {
        const own = await serviceToken("impersonate-all");
        assertError(await exchange("impersonate-all", own, [["requested_subject", "nobody"]]), 400, "invalid_request");
        assertError(await exchange("impersonate-all", own, [["requested_subject", "carol"]]), 400, "invalid_request");
      });

      it("a client without an impersonation policy then unauthorized_client", async () => {
        const own = await serviceToken("gateway", "orders.read");
        assertError(await exchange("gateway", own, [["requested_subject", "alice"]]), 400, "unauthorized_client");
      });

      it("requested_subject together with actor_token then invalid_request", async () => {
        const own = await serviceToken("impersonate-all");
        const answer = await exchange("impersonate-all", own, [["requested_subject", "alice"], ["actor_token", own], ["actor_token_type", ACCESS_TOKEN]]);
        assertError(answer, 400, "invalid_request");
      });
    });

    describe("delegation", () => {
      it("a token issued to a client with a may_act policy then may_act names the actor's service account", async () => {
        const claims = await verifyWithJwks(await serviceToken("frontend", "orders.read"), issuer);
        assert.deepEqual(claims.may_act, { sub: serviceAccountOf("orders-api"), iss: issuer, client_id: "orders-api" });
      });

      it("actor_token named by may_act then act names the actor and sub stays the subject's", async () => {
        const subject = await serviceToken("frontend", "orders.read");
        const actor = await serviceToken("orders-api");
        const answer = await exchange("orders-api", subject, [["actor_token", actor], ["actor_token_type", ACCESS_TOKEN], ["scope", "profile"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const claims = await verifyWithJwks(answer.body.access_token as string, issuer);
        assert.equal(claims.sub, serviceAccountOf("frontend"));
        assert.deepEqual(claims.act, { sub: serviceAccountOf("orders-api"), iss: issuer, client_id: "orders-api" });
      });

      it("an actor on an impersonated token then the earlier actor is nested inside act", async () => {
        const { access } = await impersonateAlice();
        const actor = await serviceToken("orders-api");
        const answer = await exchange("orders-api", access, [["actor_token", actor], ["actor_token_type", ACCESS_TOKEN], ["scope", "profile"]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const claims = await verifyWithJwks(answer.body.access_token as string, issuer);
        assert.equal(claims.sub, userId("alice"));
        const act = claims.act as { sub: string; act?: { sub: string } };
        assert.equal(act.sub, serviceAccountOf("orders-api"));
        assert.equal(act.act?.sub, serviceAccountOf("impersonator"));
      });

      it("a chain longer than the realm's maxDelegationDepth then invalid_request", async () => {
        const shallowName = `d-${randomUUID().slice(0, 8)}`;
        await tessera.repository.importRealm((await buildTestRealm(shallowName, { maxDelegationDepth: 1 })).bundle);
        const shallow = tessera.tokenUrl(shallowName);
        const token = async (clientId: ClientId, scope?: string) =>
          (await postForm(shallow, { grant_type: "client_credentials", ...(scope && { scope }) }, basic(clientId))).body.access_token as string;
        const alice = await exchange("impersonator", await token("impersonator", "orders.read"), [["requested_subject", "alice"]], shallow);
        assert.equal(alice.status, 200, JSON.stringify(alice.body));
        const answer = await exchange("orders-api", alice.body.access_token as string, [["actor_token", await token("orders-api")], ["actor_token_type", ACCESS_TOKEN]], shallow);
        assertError(answer, 400, "invalid_request");
        assert.match(answer.body.error_description as string, /longer than 1/);
      });

      it("a subject token without may_act for the actor then invalid_request", async () => {
        const subject = await serviceToken("gateway", "orders.read");
        const actor = await serviceToken("orders-api");
        const answer = await exchange("orders-api", subject, [["actor_token", actor], ["actor_token_type", ACCESS_TOKEN]]);
        assertError(answer, 400, "invalid_request");
        assert.match(answer.body.error_description as string, /may_act/);
      });

      it("an actor token of the same subject then invalid_request", async () => {
        const own = await serviceToken("orders-api");
        assertError(await exchange("orders-api", own, [["actor_token", own], ["actor_token_type", ACCESS_TOKEN]]), 400, "invalid_request");
      });

      it("an actor token not issued to or for the requester then invalid_request", async () => {
        const subject = await serviceToken("frontend", "orders.read");
        const foreignActor = await serviceToken("gateway");
        assertError(await exchange("orders-api", subject, [["actor_token", foreignActor], ["actor_token_type", ACCESS_TOKEN]]), 400, "invalid_request");
      });

      it("an expired actor token then invalid_request", async () => {
        const actor = await serviceToken("orders-api");
        clock.advance(400);
        const subject = await serviceToken("frontend", "orders.read");
        assertError(await exchange("orders-api", subject, [["actor_token", actor], ["actor_token_type", ACCESS_TOKEN]]), 400, "invalid_request");
      });

      it("a client without delegation permission sending an actor_token then unauthorized_client", async () => {
        const subject = await serviceToken("frontend", "orders.read");
        const actor = await serviceToken("gateway");
        assertError(await exchange("gateway", subject, [["actor_token", actor], ["actor_token_type", ACCESS_TOKEN]]), 400, "unauthorized_client");
      });
    });

    describe("refresh tokens", () => {
      it("an exchange for a session subject by a same_session client then a refresh token alongside", async () => {
        const { refresh: token } = await impersonateAlice();
        assert.equal(typeof token, "string");
        assert.ok(token.length > 30);
      });

      it("requested_token_type refresh_token then the refresh token in access_token with N_A", async () => {
        const { access } = await impersonateAlice();
        const answer = await exchange("impersonator", access, [["requested_token_type", REFRESH_TOKEN]]);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.issued_token_type, REFRESH_TOKEN);
        assert.equal(answer.body.token_type, "N_A");
        assert.equal((await refresh("impersonator", answer.body.access_token as string)).status, 200);
      });

      it("requested_token_type refresh_token for a subject without a session then invalid_request", async () => {
        const own = await serviceToken("impersonator", "orders.read");
        assertError(await exchange("impersonator", own, [["requested_token_type", REFRESH_TOKEN]]), 400, "invalid_request");
      });

      it("a refresh then new tokens in the same session, and the old refresh token is dead", async () => {
        const { refresh: first, sid } = await impersonateAlice();
        const answer = await refresh("impersonator", first);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.headers.get("cache-control"), "no-store");
        assert.notEqual(answer.body.refresh_token, first);
        const claims = await verifyWithJwks(answer.body.access_token as string, issuer);
        assert.equal(claims.sid, sid);
        assert.equal(claims.sub, userId("alice"));
        assert.equal(claims.scope, "orders.read");
        assert.equal((await refresh("impersonator", answer.body.refresh_token as string)).status, 200);
      });

      it("a used refresh token presented again then invalid_grant and the session ends", async () => {
        const { refresh: first, access } = await impersonateAlice();
        const rotated = await refresh("impersonator", first);
        assert.equal(rotated.status, 200);
        assertError(await refresh("impersonator", first), 400, "invalid_grant");
        assertError(await refresh("impersonator", rotated.body.refresh_token as string), 400, "invalid_grant");
        assert.deepEqual((await introspect(access)).body, { active: false });
        const fresh = rotated.body.access_token as string;
        assertError(await exchange("impersonator", fresh), 400, "invalid_request");
      });

      it("concurrent uses of one refresh token then exactly one wins", async () => {
        const { refresh: token } = await impersonateAlice();
        const answers = await Promise.all(Array.from({ length: 8 }, () => refresh("impersonator", token)));
        assert.equal(answers.filter((a) => a.status === 200).length, 1);
        for (const answer of answers.filter((a) => a.status !== 200)) assertError(answer, 400, "invalid_grant");
      });

      it("a refresh token used by another client then invalid_grant", async () => {
        const { refresh: token } = await impersonateAlice();
        assertError(await refresh("gateway", token), 400, "invalid_grant");
        assert.equal((await refresh("impersonator", token)).status, 200, "the foreign attempt did not burn it");
      });

      it("a narrower scope on refresh then granted, a wider one then invalid_scope", async () => {
        const { refresh: token } = await impersonateAlice("orders.read profile");
        assertError(await refresh("impersonator", token, { scope: "orders.read inventory.read" }), 400, "invalid_scope");
        const narrower = await refresh("impersonator", token, { scope: "profile" });
        assert.equal(narrower.status, 200, JSON.stringify(narrower.body));
        assert.equal(narrower.body.scope, "profile");
      });

      it("offline_access then invalid_scope", async () => {
        assertError(await postForm(url, { grant_type: "client_credentials", scope: "offline_access" }, basic("impersonator")), 400, "invalid_scope");
      });

      it("a session idle longer than its timeout then its refresh token is invalid_grant", async () => {
        const { refresh: token } = await impersonateAlice();
        clock.advance(601);
        assertError(await refresh("impersonator", token), 400, "invalid_grant");
      });

      it("a garbage refresh token then invalid_grant", async () => {
        assertError(await refresh("impersonator", "x".repeat(43)), 400, "invalid_grant");
      });
    });

    describe("ending sessions", () => {
      it("EndSession through AdminService then the session's tokens fail everywhere at once, on a second instance too", async () => {
        const { access, refresh: token, sid } = await impersonateAlice();
        assert.equal((await introspect(access, "orders-api", second)).body.active, true);
        await admin.endSession({ realm: realmName, sessionId: sid });
        assertError(await exchange("impersonator", access, [], second.tokenUrl(realmName)), 400, "invalid_request");
        assertError(await refresh("impersonator", token, {}, second.tokenUrl(realmName)), 400, "invalid_grant");
        assert.deepEqual((await introspect(access, "orders-api", second)).body, { active: false });
        const listed = await admin.listSessions({ realm: realmName, userId: userId("alice") ?? "" });
        const ended = listed.sessions.find((s) => s.id === sid);
        assert.equal(ended?.active, false);
        assert.equal(ended?.endReason, "admin");
      });

      it("logout with a refresh token then 204 and the session has ended", async () => {
        const { access, refresh: token } = await impersonateAlice();
        const response = await fetch(endpoint("logout"), {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`impersonator:${SECRETS.impersonator}`).toString("base64")}` },
          body: new URLSearchParams({ refresh_token: token }),
        });
        assert.equal(response.status, 204);
        assert.deepEqual((await introspect(access)).body, { active: false });
      });

      it("logout with another client's refresh token then invalid_grant and the session lives", async () => {
        const { access, refresh: token } = await impersonateAlice();
        assertError(await postForm(endpoint("logout"), { refresh_token: token }, basic("gateway")), 400, "invalid_grant");
        assert.equal((await introspect(access)).body.active, true);
      });

      it("ListSessions with active_only then only active sessions", async () => {
        const { sid } = await impersonateAlice();
        const active = await admin.listSessions({ realm: realmName, activeOnly: true, pageSize: 1000 });
        assert.ok(active.sessions.some((s) => s.id === sid));
        assert.ok(active.sessions.every((s) => s.active));
      });
    });

    describe("introspection", () => {
      it("an active access token then its claims", async () => {
        const { access, sid } = await impersonateAlice();
        const answer = await introspect(access);
        assert.equal(answer.status, 200);
        assert.equal(answer.headers.get("cache-control"), "no-store");
        const claims = await verifyWithJwks(access, issuer);
        assert.deepEqual(answer.body, {
          active: true,
          token_type: "Bearer",
          sub: userId("alice"),
          client_id: "impersonator",
          scope: "orders.read",
          exp: claims.exp,
          iat: claims.iat,
          aud: "orders-api",
          iss: issuer,
          jti: claims.jti,
          sid,
          act: claims.act,
        });
      });

      it("an active refresh token then active with its session", async () => {
        const { refresh: token, sid } = await impersonateAlice();
        const answer = await introspect(token);
        assert.equal(answer.body.active, true);
        assert.equal(answer.body.token_type, "refresh_token");
        assert.equal(answer.body.sid, sid);
      });

      it("an expired, malformed or foreign-realm token then active false and nothing else", async () => {
        const expired = await serviceToken("gateway");
        const otherName = `o-${randomUUID().slice(0, 8)}`;
        await tessera.repository.importRealm((await buildTestRealm(otherName)).bundle);
        const foreign = (await postForm(tessera.tokenUrl(otherName), { grant_type: "client_credentials" }, basic("gateway"))).body.access_token as string;
        for (const token of ["garbage", "a.b.c", foreign]) assert.deepEqual((await introspect(token)).body, { active: false });
        clock.advance(400);
        assert.deepEqual((await introspect(expired)).body, { active: false });
      });

      it("introspection by a public client then unauthorized_client", async () => {
        const answer = await postForm(endpoint("token/introspect"), { token: "x", client_id: "cli" });
        assertError(answer, 400, "unauthorized_client");
      });

      it("introspection without client authentication then 401 invalid_client", async () => {
        assertError(await postForm(endpoint("token/introspect"), { token: "x" }), 401, "invalid_client");
      });

      it("introspection without a token then invalid_request", async () => {
        assertError(await postForm(endpoint("token/introspect"), {}, basic("orders-api")), 400, "invalid_request");
      });
    });

    describe("two instances on one storage", () => {
      it("a token revoked on one instance then inactive and refused as a subject token on the other (RFC 7009 section 2.1)", async () => {
        const token = await serviceToken("gateway", "orders.read");
        assert.equal((await introspect(token, "orders-api", second)).body.active, true);
        assert.equal((await revoke("gateway", token)).status, 200);
        assert.deepEqual((await introspect(token, "orders-api", second)).body, { active: false });
        assertError(await exchange("gateway", token, [], second.tokenUrl(realmName)), 400, "invalid_request");
      });

      it("a refresh token used on one instance then reused on the other then invalid_grant and the newer token dies too", async () => {
        const { refresh: first } = await impersonateAlice();
        const rotated = await refresh("impersonator", first);
        assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
        assertError(await refresh("impersonator", first, {}, second.tokenUrl(realmName)), 400, "invalid_grant");
        assertError(await refresh("impersonator", rotated.body.refresh_token as string), 400, "invalid_grant");
      });
    });

    describe("revocation", () => {
      it("a revoked access token then inactive and refused as a subject token", async () => {
        const token = await serviceToken("gateway", "orders.read");
        const answer = await revoke("gateway", token);
        assert.equal(answer.status, 200);
        assert.deepEqual((await introspect(token)).body, { active: false });
        assertError(await exchange("gateway", token), 400, "invalid_request");
      });

      it("revoking a token then every token exchanged from it, transitively, is revoked", async () => {
        const root = await serviceToken("gateway", "orders.read");
        const child = (await exchange("gateway", root, [["audience", "orders-api"]])).body.access_token as string;
        const grandchild = (await exchange("orders-api", child, [["scope", "profile"]])).body.access_token as string;
        assert.equal((await introspect(grandchild)).body.active, true);
        assert.equal((await revoke("gateway", root)).status, 200);
        for (const token of [root, child, grandchild]) assert.deepEqual((await introspect(token, "orders-api", second)).body, { active: false });
      });

      it("revoking a refresh token then it and the tokens refreshed from it are dead", async () => {
        const { refresh: token } = await impersonateAlice();
        const refreshed = await refresh("impersonator", token);
        const next = refreshed.body.refresh_token as string;
        assert.equal((await revoke("impersonator", token)).status, 200);
        assert.deepEqual((await introspect(refreshed.body.access_token as string)).body, { active: false });
        assertError(await refresh("impersonator", next), 400, "invalid_grant");
      });

      it("revocation by a client the token was not issued to then unauthorized_client and the token lives", async () => {
        const token = await serviceToken("gateway", "orders.read");
        assertError(await revoke("orders-api", token), 400, "unauthorized_client");
        assert.equal((await introspect(token)).body.active, true);
      });

      it("an unknown or garbage token then 200", async () => {
        for (const token of ["garbage", "x".repeat(43)]) assert.equal((await revoke("gateway", token)).status, 200);
      });

      it("a revoked access token then its revocation lasts exactly until it would have expired", async () => {
        const token = await serviceToken("gateway");
        await revoke("gateway", token);
        const { jti } = await verifyWithJwks(token, issuer);
        assert.equal(await tessera.repository.isTokenRevoked(realmName, jti as string), true);
        clock.advance(400);
        const now = clock.now();
        await tessera.repository.purgeExpired(now, new Date(0));
        assert.equal(await tessera.repository.isTokenRevoked(realmName, jti as string), false);
      });
    });

    describe("over gRPC", () => {
      it("RefreshToken, IntrospectToken, RevokeToken and Logout behave as the form endpoints", async () => {
        const rpc = createClient(TokenExchangeService, createGrpcTransport({ baseUrl: tessera.baseUrl }));
        const client = { clientId: "impersonator", clientSecret: SECRETS.impersonator };
        const { refresh: token, access } = await impersonateAlice();
        const refreshed = await rpc.refreshToken({ realm: realmName, client, refreshToken: token });
        assert.ok(refreshed.refreshToken && refreshed.accessToken);
        const active = await rpc.introspectToken({ realm: realmName, client, token: refreshed.accessToken });
        assert.equal(active.active, true);
        assert.equal(active.sub, userId("alice"));
        assert.deepEqual(JSON.parse(active.actJson), { sub: serviceAccountOf("impersonator"), client_id: "impersonator" });
        await rpc.revokeToken({ realm: realmName, client, token: refreshed.accessToken });
        assert.equal((await rpc.introspectToken({ realm: realmName, client, token: refreshed.accessToken })).active, false);
        await rpc.logout({ realm: realmName, client, refreshToken: refreshed.refreshToken });
        assert.equal((await rpc.introspectToken({ realm: realmName, client, token: access })).active, false);
      });
    });

    describe("impersonation and delegation over gRPC", () => {
      it("ExchangeToken with requested_subject and with actor_token then act claims, and denials as PERMISSION_DENIED / INVALID_ARGUMENT with OAuth details", async () => {
        const rpc = createClient(TokenExchangeService, createGrpcTransport({ baseUrl: tessera.baseUrl }));
        const own = await serviceToken("impersonator", "orders.read");
        const impersonated = await rpc.exchangeToken({
          realm: realmName,
          client: { clientId: "impersonator", clientSecret: SECRETS.impersonator },
          subjectToken: own,
          subjectTokenType: ACCESS_TOKEN,
          requestedSubject: "alice",
        });
        assert.equal((await verifyWithJwks(impersonated.accessToken, issuer)).sub, userId("alice"));
        assert.ok(impersonated.refreshToken);
        const denied = await rpc
          .exchangeToken({ realm: realmName, client: { clientId: "impersonator", clientSecret: SECRETS.impersonator }, subjectToken: own, subjectTokenType: ACCESS_TOKEN, requestedSubject: "bob" })
          .then(() => assert.fail("impersonating bob succeeded"), (e: unknown) => ConnectError.from(e));
        assert.equal(denied.code, Code.PermissionDenied);
        assert.equal(denied.findDetails(OAuthErrorSchema)[0]?.error, "unauthorized_client");

        const orders = { clientId: "orders-api", clientSecret: SECRETS["orders-api"] };
        const subject = await serviceToken("frontend", "orders.read");
        const actor = await serviceToken("orders-api");
        const delegated = await rpc.exchangeToken({ realm: realmName, client: orders, subjectToken: subject, subjectTokenType: ACCESS_TOKEN, actorToken: actor, actorTokenType: ACCESS_TOKEN, scope: "profile" });
        assert.equal(((await verifyWithJwks(delegated.accessToken, issuer)).act as { sub: string }).sub, serviceAccountOf("orders-api"));
        const mismatch = await rpc
          .exchangeToken({ realm: realmName, client: orders, subjectToken: await serviceToken("gateway", "orders.read"), subjectTokenType: ACCESS_TOKEN, actorToken: actor, actorTokenType: ACCESS_TOKEN })
          .then(() => assert.fail("may_act mismatch succeeded"), (e: unknown) => ConnectError.from(e));
        assert.equal(mismatch.code, Code.InvalidArgument);
        assert.equal(mismatch.findDetails(OAuthErrorSchema)[0]?.error, "invalid_request");
      });
    });

    describe("audit events", () => {
      it("operations then events with client, subject, actor, scopes and token ids, never a token", async () => {
        const since = new Date();
        const { access } = await impersonateAlice();
        await postForm(url, { grant_type: "client_credentials" }, { basic: ["gateway", "wrong"] });
        const events = await admin.listEvents({ realm: realmName, pageSize: 1000 });
        const recent = events.events.filter((e) => (e.time?.seconds ?? 0n) >= BigInt(Math.floor(since.getTime() / 1000)));
        const impersonation = recent.find((e) => e.kind === "token_exchange" && e.subject === userId("alice"));
        assert.ok(impersonation, "impersonation event");
        assert.equal(impersonation.result, "success");
        assert.equal(impersonation.clientId, "impersonator");
        assert.equal(impersonation.actor, serviceAccountOf("impersonator"));
        assert.deepEqual(impersonation.scopes, ["orders.read"]);
        assert.ok(impersonation.jtis.includes((await verifyWithJwks(access, issuer)).jti as string));
        const failure = recent.find((e) => e.kind === "client_credentials" && e.result === "failure");
        assert.equal(failure?.error, "invalid_client");
        const serialized = JSON.stringify(events.events, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
        assert.ok(!serialized.includes(access) && !serialized.includes(SECRETS.gateway));
      });

      it("ListEvents with a kind filter and paging then pages of that kind, newest first", async () => {
        for (let i = 0; i < 3; i++) await serviceToken("gateway");
        const first = await admin.listEvents({ realm: realmName, kind: "client_credentials", pageSize: 2 });
        assert.equal(first.events.length, 2);
        assert.ok(first.nextPageToken);
        const next = await admin.listEvents({ realm: realmName, kind: "client_credentials", pageSize: 2, pageToken: first.nextPageToken });
        assert.ok(next.events.length >= 1);
        const all = [...first.events, ...next.events];
        assert.ok(all.every((e) => e.kind === "client_credentials"));
        assert.equal(new Set(all.map((e) => e.id)).size, all.length);
        const times = all.map((e) => Number(e.time?.seconds ?? 0n));
        assert.deepEqual(times, [...times].sort((a, b) => b - a));
      });
    });
  });
}
