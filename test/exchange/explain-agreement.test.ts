/**
 * ExplainExchange agrees with ExchangeToken: for each case of a table, Explain then the real call
 * on the same state, over a grpc-js client and over the form endpoints. Explain must predict the
 * real outcome (same error code, or the same claims but iat/exp/jti) and write nothing but its
 * own audit event.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { decodeJwt, type JWTPayload } from "jose";
import { countingRepository } from "../support/counting-repository.js";
import { basic, call, decodeStatusDetails, loadTokenExchangeClient, type ExchangeTokenRequest, type TokenExchangeClient } from "../support/grpc-js-client.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { TestClock } from "../support/test-clock.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "explain";
const ACCESS = "urn:ietf:params:oauth:token-type:access_token";
const REFRESH = "urn:ietf:params:oauth:token-type:refresh_token";
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

/** An exchange: who asks, with which parameters; tokens are fetched for each run. */
interface Case {
  name: string;
  client: string;
  /** The client whose client-credentials token is the subject token, and its scope. */
  subjectOf: { client: string; scope: string };
  params?: Omit<ExchangeTokenRequest, "realm" | "subjectToken" | "subjectTokenType">;
  /** The client whose token is the actor token ("garbage" for a token no one issued). */
  actorOf?: string;
  /** Moves the clock past the subject token's expiry before the calls. */
  expireSubject?: boolean;
  /** The real call starts a session: its `sid` is new. */
  newSession?: boolean;
  expected: string;
}

const CASES: Case[] = [
  { name: "success", client: "gateway", subjectOf: { client: "gateway", scope: "orders.read" }, params: { audience: ["orders-api"], scope: "orders.read" }, expected: "issued" },
  { name: "wrong audience", client: "gateway", subjectOf: { client: "gateway", scope: "orders.read" }, params: { audience: ["inventory-api"], scope: "orders.read" }, expected: "invalid_target" },
  { name: "scope not allowed", client: "gateway", subjectOf: { client: "gateway", scope: "orders.read" }, params: { scope: "orders.read admin" }, expected: "invalid_scope" },
  { name: "impersonation", client: "impersonator", subjectOf: { client: "impersonator", scope: "profile" }, params: { requestedSubject: "alice" }, newSession: true, expected: "issued" },
  { name: "impersonation not permitted", client: "impersonator", subjectOf: { client: "impersonator", scope: "profile" }, params: { requestedSubject: "bob" }, expected: "unauthorized_client" },
  { name: "expired subject", client: "gateway", subjectOf: { client: "gateway", scope: "orders.read" }, expireSubject: true, expected: "invalid_request" },
  { name: "delegation", client: "orders-api", subjectOf: { client: "frontend", scope: "orders.read" }, actorOf: "orders-api", expected: "issued" },
  { name: "unknown actor", client: "orders-api", subjectOf: { client: "frontend", scope: "orders.read" }, actorOf: "garbage", expected: "invalid_request" },
  { name: "public client", client: "cli", subjectOf: { client: "gateway", scope: "orders.read" }, expected: "invalid_request" },
  { name: "disabled client", client: "retired", subjectOf: { client: "gateway", scope: "orders.read" }, expected: "invalid_client" },
  { name: "client without token exchange", client: "no-exchange", subjectOf: { client: "gateway", scope: "orders.read" }, expected: "unauthorized_client" },
];

/** What a caller sees of an outcome: the error code, or the claims that do not change from call to call. */
function comparable(outcome: { error?: string; claims?: JWTPayload; scope?: string; refresh?: boolean }, newSession: boolean) {
  if (outcome.error) return { error: outcome.error };
  const { iat: _iat, exp: _exp, jti: _jti, sid, ...claims } = outcome.claims ?? {};
  return { claims, hasSid: sid !== undefined, ...(!newSession && { sid }), scope: outcome.scope, refresh: outcome.refresh };
}

describe("ExplainExchange agrees with ExchangeToken", () => {
  let harness: TesseraHarness;
  let grpcClient: TokenExchangeClient;
  const clock = new TestClock();
  const counted = countingRepository();

  before(async () => {
    harness = await startTessera({ repository: counted.repository, clock, grpcPort: true });
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    const Service = loadTokenExchangeClient();
    grpcClient = new Service(harness.grpcAddress ?? "", grpc.credentials.createInsecure());
  });

  after(async () => {
    grpcClient?.close();
    await harness?.stop();
  });

  const secretOf = (clientId: string) => (SECRETS as Record<string, string>)[clientId];

  async function tokenOf(clientId: string, scope: string): Promise<string> {
    const answer = await postForm(harness.tokenUrl(REALM), { grant_type: "client_credentials", scope }, { basic: [clientId, secretOf(clientId)] });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.access_token as string;
  }

  async function requestOf(c: Case): Promise<ExchangeTokenRequest> {
    const subjectToken = await tokenOf(c.subjectOf.client, c.subjectOf.scope);
    const actor = c.actorOf === "garbage" ? "eyJhbGciOiJub25lIn0.e30." : c.actorOf ? await tokenOf(c.actorOf, "profile") : undefined;
    if (c.expireSubject) clock.advance(301);
    return { realm: REALM, subjectToken, subjectTokenType: ACCESS, ...(actor && { actorToken: actor, actorTokenType: ACCESS }), ...c.params };
  }

  /** The writes `run` makes, once pending audit events are written. */
  async function writesOf(run: () => Promise<void>): Promise<string[]> {
    await harness.tessera.audit.flush();
    const start = counted.writes.length;
    await run();
    await harness.tessera.audit.flush();
    return counted.writes.slice(start);
  }

  async function explainEvents(): Promise<number> {
    await harness.tessera.audit.flush();
    return (await harness.repository.listEvents(REALM, { kind: "explain", pageSize: 1000 })).items.length;
  }

  for (const c of CASES) {
    it(`over grpc-js: ${c.name}`, async () => {
      clock.reset();
      const request = await requestOf(c);
      const metadata = () => (c.client === "cli" ? new grpc.Metadata() : basic(c.client, secretOf(c.client)));
      const exchange = c.client === "cli" ? { ...request, client: { clientId: "cli" } } : request;
      const eventsBefore = await explainEvents();
      let explained: Awaited<ReturnType<typeof call<{ exchange: ExchangeTokenRequest }, import("../support/grpc-js-client.js").ExplainExchangeResponse>>> = {};
      const writes = await writesOf(async () => {
        explained = await call(grpcClient.ExplainExchange, grpcClient, { exchange }, metadata());
      });
      assert.equal(explained.error, undefined);
      assert.ok(explained.response);
      assert.deepEqual(writes.filter((w) => w !== "appendEvents"), [], "explain writes nothing but its audit event");
      assert.equal(await explainEvents(), eventsBefore + 1, "one explain event");
      const { outcome, rules } = explained.response;
      assert.ok(rules.length > 0);
      assert.equal(rules.filter((r) => !r.passed).length, outcome.issued ? 0 : 1, "at most the last rule failed");
      if (!outcome.issued) assert.equal(rules.at(-1)?.passed, false);
      for (const rule of rules) {
        for (const value of Object.values(rule.inputs)) assert.ok(!value.includes(request.subjectToken), "no whole token in a trace");
      }

      let real: Awaited<ReturnType<typeof call<ExchangeTokenRequest, import("../support/grpc-js-client.js").ExchangeTokenResponse>>> = {};
      const realWrites = await writesOf(async () => {
        real = await call(grpcClient.ExchangeToken, grpcClient, exchange, metadata());
      });
      // The counting sees what explain did not do: the real exchange records the issued token's lineage.
      if (c.expected === "issued") assert.ok(realWrites.includes("recordLineage"), realWrites.join());
      if (c.newSession) assert.ok(realWrites.includes("createSession") && realWrites.includes("storeRefreshToken"), realWrites.join());
      const realOutcome = real.error
        ? { error: decodeStatusDetails(real.error).oauth?.error }
        : {
            claims: real.response?.accessToken.startsWith("eyJ") ? decodeJwt(real.response.accessToken) : undefined,
            scope: real.response?.scope,
            refresh: Boolean(real.response?.refreshToken) || real.response?.issuedTokenType === REFRESH,
          };
      const explainOutcome = outcome.issued
        ? { claims: outcome.claimsJson ? (JSON.parse(outcome.claimsJson) as JWTPayload) : undefined, scope: outcome.scope, refresh: outcome.refreshToken || outcome.issuedTokenType === REFRESH }
        : { error: outcome.error };
      assert.equal(real.error ? realOutcome.error : "issued", c.expected);
      assert.deepEqual(comparable(explainOutcome, c.newSession ?? false), comparable(realOutcome, c.newSession ?? false));
    });
  }

  for (const c of CASES) {
    it(`over the form endpoints: ${c.name}`, async () => {
      clock.reset();
      const request = await requestOf(c);
      const form: [string, string][] = [
        ["grant_type", EXCHANGE],
        ["subject_token", request.subjectToken],
        ["subject_token_type", ACCESS],
        ...(request.actorToken ? ([["actor_token", request.actorToken], ["actor_token_type", ACCESS]] as [string, string][]) : []),
        ...(request.audience ?? []).map((a): [string, string] => ["audience", a]),
        ...(request.scope ? ([["scope", request.scope]] as [string, string][]) : []),
        ...(request.requestedSubject ? ([["requested_subject", request.requestedSubject]] as [string, string][]) : []),
        ...(request.requestedTokenType ? ([["requested_token_type", request.requestedTokenType]] as [string, string][]) : []),
        ...(c.client === "cli" ? ([["client_id", "cli"]] as [string, string][]) : []),
      ];
      const auth = c.client === "cli" ? {} : { basic: [c.client, secretOf(c.client)] as [string, string] };
      let explained: Awaited<ReturnType<typeof postForm>> | undefined;
      const writes = await writesOf(async () => {
        explained = await postForm(`${harness.tokenUrl(REALM)}/explain`, form, auth);
      });
      assert.ok(explained);
      assert.equal(explained.status, 200, JSON.stringify(explained.body));
      assert.deepEqual(writes.filter((w) => w !== "appendEvents"), []);
      const outcome = explained.body.outcome as { issued: boolean; error?: string; claims?: JWTPayload; scope?: string; refresh_token?: boolean; issued_token_type?: string };
      const real = await postForm(harness.tokenUrl(REALM), form, auth);
      const realOutcome =
        real.status === 200
          ? {
              claims: String(real.body.access_token).startsWith("eyJ") ? decodeJwt(String(real.body.access_token)) : undefined,
              scope: real.body.scope as string | undefined,
              refresh: real.body.refresh_token !== undefined || real.body.issued_token_type === REFRESH,
            }
          : { error: real.body.error as string };
      const explainOutcome = outcome.issued
        ? { claims: outcome.claims, scope: outcome.scope || undefined, refresh: Boolean(outcome.refresh_token) || outcome.issued_token_type === REFRESH }
        : { error: outcome.error };
      assert.equal(real.status === 200 ? "issued" : realOutcome.error, c.expected);
      assert.deepEqual(comparable(explainOutcome, c.newSession ?? false), comparable(realOutcome, c.newSession ?? false));
    });
  }

  it("a realm admin explains for a client named by client_id alone; a token without the realm's admin scope is refused", async () => {
    clock.reset();
    const subjectToken = await tokenOf("gateway", "orders.read");
    const form = { grant_type: EXCHANGE, client_id: "gateway", subject_token: subjectToken, subject_token_type: ACCESS, audience: "orders-api" };
    const admin = await harness.adminCaller([`admin:${REALM}`]);
    const explained = await postForm(`${harness.tokenUrl(REALM)}/explain`, form, { headers: await admin.headers() });
    assert.equal(explained.status, 200, JSON.stringify(explained.body));
    assert.equal((explained.body.outcome as { issued: boolean }).issued, true);
    const reader = await harness.adminCaller(["admin.read"]);
    const refused = await postForm(`${harness.tokenUrl(REALM)}/explain`, form, { headers: await reader.headers() });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, "unauthorized_client");
    const anonymous = await postForm(`${harness.tokenUrl(REALM)}/explain`, form);
    assert.equal((anonymous.body.outcome as { error: string }).error, "invalid_client", "without credentials the client is not authenticated");
  });

  it("over grpc-js, a realm admin's bearer metadata explains for the named client; an unknown bearer token is UNAUTHENTICATED", async () => {
    clock.reset();
    const subjectToken = await tokenOf("gateway", "orders.read");
    const exchange: ExchangeTokenRequest = { realm: REALM, client: { clientId: "gateway" }, subjectToken, subjectTokenType: ACCESS, audience: ["inventory-api"] };
    const admin = await harness.adminCaller(["admin"]);
    const metadata = new grpc.Metadata();
    metadata.add("authorization", (await admin.headers()).authorization);
    const explained = await call(grpcClient.ExplainExchange, grpcClient, { exchange }, metadata);
    assert.equal(explained.error, undefined);
    assert.equal(explained.response?.outcome.error, "invalid_target");
    assert.equal(explained.response?.rules.at(-1)?.name, "audience");
    const forged = new grpc.Metadata();
    forged.add("authorization", `Bearer ${subjectToken}`);
    const refused = await call(grpcClient.ExplainExchange, grpcClient, { exchange }, forged);
    assert.equal(refused.error?.code, grpc.status.UNAUTHENTICATED);
  });
});
