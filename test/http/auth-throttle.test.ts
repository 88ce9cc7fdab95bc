import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, beforeEach, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { OAuthErrorSchema } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { MASTER_REALM } from "../../src/admin/admin-access.js";
import { basic, call, decodeStatusDetails, loadTokenExchangeClient, type TokenExchangeClient } from "../support/grpc-js-client.js";
import { clientAssertion, postForm, type TokenAnswer } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { TestClock } from "../support/test-clock.js";
import { buildTestRealm, SECRETS, type TestRealm } from "../support/test-realm.js";

const REALM = "throttle";
const TokenExchangeService = loadTokenExchangeClient();

/** POSTs a form with client_secret_basic over a socket bound to `localAddress`: another client host. */
function postFrom(localAddress: string, url: string, form: Record<string, string>, [id, secret]: [string, string]): Promise<TokenAnswer> {
  const body = new URLSearchParams(form).toString();
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", localAddress, headers: { "content-type": "application/x-www-form-urlencoded", authorization } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const headers = new Headers();
        for (const [key, value] of Object.entries(res.headers)) headers.set(key, String(value));
        resolve({ status: res.statusCode ?? 0, headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The value of one series of a Prometheus scrape (0 when absent). */
function series(scrape: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = scrape.split("\n").find((l) => l.startsWith(`${name}{`) && wanted.every((pair) => l.includes(pair)));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

describe("throttled client authentication (issue 13)", () => {
  const clock = new TestClock();
  let tessera: TesseraHarness;
  let realm: TestRealm;
  let grpcPort: TokenExchangeClient;
  let mainPort: TokenExchangeClient;
  let url: string;

  before(async () => {
    tessera = await startTessera({ clock, grpcPort: true });
    realm = await buildTestRealm(REALM);
    await tessera.repository.importRealm(realm.bundle);
    url = tessera.tokenUrl(REALM);
    grpcPort = new TokenExchangeService(tessera.grpcAddress ?? "", grpc.credentials.createInsecure());
    mainPort = new TokenExchangeService(`127.0.0.1:${tessera.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    grpcPort.close();
    mainPort.close();
    await tessera.stop();
  });
  // Past the 15-minute window every counter is forgotten: each test starts unthrottled.
  beforeEach(() => clock.advance(16 * 60));

  const gateway = (secret: string) => postForm(url, { grant_type: "client_credentials" }, { basic: ["gateway", secret] });
  const failTimes = async (n: number, attempt: () => Promise<TokenAnswer>) => {
    for (let i = 0; i < n; i++) assert.equal((await attempt()).status, 401, `failure ${i + 1} is checked and refused`);
  };

  it("five wrong secrets: 429 temporarily_unavailable with Retry-After, even for the right secret, until the back-off passes", async () => {
    await failTimes(5, () => gateway("wrong-secret"));
    const refused = await gateway(SECRETS.gateway);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, "temporarily_unavailable");
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal(refused.headers.get("cache-control"), "no-store");
    assert.ok(!JSON.stringify(refused.body).includes(SECRETS.gateway));
    clock.advance(1);
    assert.equal((await gateway(SECRETS.gateway)).status, 200, "after the back-off the right secret works, and resets the counter");
    await failTimes(4, () => gateway("wrong-secret"));
  });

  it("while throttled, a wrong secret gets the same 429 as the right one (no oracle), and each further failure doubles the back-off", async () => {
    await failTimes(5, () => gateway("wrong-secret"));
    const [wrong, right] = [await gateway("wrong-secret"), await gateway(SECRETS.gateway)];
    assert.deepEqual([wrong.status, wrong.body], [right.status, right.body]);
    clock.advance(1);
    await failTimes(1, () => gateway("wrong-secret"));
    assert.equal((await gateway(SECRETS.gateway)).headers.get("retry-after"), "2");
    clock.advance(1);
    assert.equal((await gateway(SECRETS.gateway)).headers.get("retry-after"), "1");
    clock.advance(1);
    assert.equal((await gateway(SECRETS.gateway)).status, 200);
  });

  it("a burst of parallel guesses: only the first five are answered, every later one is 429", async () => {
    // All wrong: a right secret among them may finish first and reset the client's counter, as a
    // success does, which would make the count depend on the order the checks finish in.
    const burst = await Promise.all(Array.from({ length: 20 }, () => gateway("wrong-secret")));
    const statuses = burst.map((answer) => answer.status);
    assert.equal(statuses.filter((s) => s === 401).length, 5, statuses.join(" "));
    assert.equal(statuses.filter((s) => s === 429).length, 15, statuses.join(" "));
  });

  it("the legitimate client from another address keeps working: no lock-out by client_id", async () => {
    await failTimes(5, () => gateway("wrong-secret"));
    assert.equal((await gateway(SECRETS.gateway)).status, 429);
    const elsewhere = await postFrom("127.0.0.2", url, { grant_type: "client_credentials" }, ["gateway", SECRETS.gateway]);
    assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
    assert.equal((await postFrom("127.0.0.2", url, { grant_type: "client_credentials" }, ["gateway", "wrong-secret"])).status, 401);
  });

  it("twenty failures from one address, over any clients: every client from that address waits, others do not", async () => {
    for (let i = 0; i < 20; i++) {
      const answer = await postForm(url, { grant_type: "client_credentials" }, { basic: [`guess-${i % 5}`, "x"] });
      assert.equal(answer.status, 401);
    }
    const other = await postForm(url, { grant_type: "client_credentials" }, { basic: ["orders-api", SECRETS["orders-api"]] });
    assert.equal(other.status, 429);
    assert.equal((await postFrom("127.0.0.2", url, { grant_type: "client_credentials" }, ["orders-api", SECRETS["orders-api"]])).status, 200);
  });

  it("introspection and revocation are throttled as the token endpoint", async () => {
    const introspect = `${tessera.issuer(REALM)}/protocol/openid-connect/token/introspect`;
    const revoke = `${tessera.issuer(REALM)}/protocol/openid-connect/revoke`;
    await failTimes(5, () => postForm(introspect, { token: "x" }, { basic: ["orders-api", "wrong"] }));
    for (const endpoint of [introspect, revoke, url]) {
      const answer = await postForm(endpoint, { token: "x", grant_type: "client_credentials" }, { basic: ["orders-api", SECRETS["orders-api"]] });
      assert.equal(answer.status, 429, endpoint);
      assert.equal(answer.body.error, "temporarily_unavailable");
    }
  });

  it("gRPC on both ports: RESOURCE_EXHAUSTED with the temporarily_unavailable detail and a retry-after trailer", async () => {
    for (const client of [grpcPort, mainPort, grpcPort, mainPort, grpcPort]) {
      const { error } = await call(client.ClientCredentials, client, { realm: REALM }, basic("gateway", "wrong-secret"));
      assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
    }
    for (const client of [grpcPort, mainPort]) {
      const { error } = await call(client.ClientCredentials, client, { realm: REALM }, basic("gateway", SECRETS.gateway));
      assert.ok(error);
      assert.equal(error.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(error.metadata.get("retry-after")[0], "1");
      assert.equal(decodeStatusDetails(error).oauth?.error, "temporarily_unavailable");
    }
    assert.equal((await gateway(SECRETS.gateway)).status, 429, "the form endpoint shares the counter");
  });

  it("private_key_jwt: assertions signed with another key count, then even a good assertion waits", async () => {
    const { generateKeyPair } = await import("jose");
    const stranger = { privateKey: (await generateKeyPair("ES256")).privateKey, kid: realm.batchJob.kid };
    const withAssertion = (assertion: string) =>
      postForm(url, {
        grant_type: "client_credentials",
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: assertion,
      });
    const audience = tessera.issuer(REALM);
    await failTimes(5, async () => withAssertion(await clientAssertion(realm.batchJob, audience, {}, stranger)));
    const good = await withAssertion(await clientAssertion(realm.batchJob, audience, { iat: Math.floor(clock.now().getTime() / 1000), exp: Math.floor(clock.now().getTime() / 1000) + 60 }));
    assert.equal(good.status, 429);
    assert.equal(good.body.error, "temporarily_unavailable");
  });

  it("failed attempts are audit events with the claimed client and the source address, and metrics", async () => {
    const before = await (await fetch(`${tessera.baseUrl}/metrics`)).text();
    await failTimes(5, () => gateway("wrong-secret"));
    assert.equal((await gateway(SECRETS.gateway)).status, 429);
    await tessera.tessera.audit.flush();
    const { items } = await tessera.repository.listEvents(REALM, { clientId: "gateway", result: "failure", pageSize: 6 });
    assert.deepEqual(
      items.map((e) => [e.kind, e.error, e.sourceAddress]),
      [["client_credentials", "temporarily_unavailable", "127.0.0.1"], ...Array(5).fill(["client_credentials", "invalid_client", "127.0.0.1"])],
    );
    assert.ok(!JSON.stringify(items).includes("wrong-secret"), "never the secret");
    const scrape = await (await fetch(`${tessera.baseUrl}/metrics`)).text();
    const delta = (name: string, labels: Record<string, string>) => series(scrape, name, labels) - series(before, name, labels);
    assert.equal(delta("tessera_client_auth_failures_total", { realm: REALM, reason: "wrong_secret" }), 5);
    assert.equal(delta("tessera_auth_throttled_total", { credential: "client", scope: "client_address" }), 1);
  });
});

describe("throttled AdminService bearer tokens (issue 13)", () => {
  let tessera: TesseraHarness;

  before(async () => {
    tessera = await startTessera({ authThrottle: { clientFailures: 3 } });
  });
  after(() => tessera.stop());

  it("three refused tokens: RESOURCE_EXHAUSTED with retry-after even for a valid token; audited with the address", async () => {
    const caller = await tessera.adminCaller();
    const token = await caller.fetchToken();
    const admin = createClient(AdminService, createConnectTransport({ baseUrl: tessera.baseUrl, httpVersion: "1.1" }));
    const listRealms = (authorization: string) => admin.listRealms({}, { headers: { authorization } }).then(() => undefined, (error: unknown) => ConnectError.from(error));
    for (let i = 0; i < 3; i++) assert.equal((await listRealms("Bearer not.a.token"))?.code, Code.Unauthenticated);
    const refused = await listRealms(`Bearer ${token}`);
    assert.equal(refused?.code, Code.ResourceExhausted);
    assert.equal(refused.metadata.get("retry-after"), "1");
    assert.equal(refused.findDetails(OAuthErrorSchema)[0]?.error, "temporarily_unavailable");
    await tessera.tessera.audit.flush();
    const { items } = await tessera.repository.listEvents(MASTER_REALM, { kind: "admin", result: "failure", pageSize: 4 });
    assert.deepEqual(
      items.map((e) => [e.operation, e.error, e.sourceAddress]),
      [["ListRealms", "temporarily_unavailable", "127.0.0.1"], ...Array(3).fill(["ListRealms", "unauthenticated", "127.0.0.1"])],
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(await listRealms(`Bearer ${token}`), undefined, "after the back-off the valid token works");
  });
});
