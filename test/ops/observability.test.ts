/**
 * Metrics and logs after real traffic on every surface: a scrape of /metrics has the expected
 * series with bounded labels; the log has one line per request with its request id, and no token,
 * secret or client assertion anywhere.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair } from "jose";
import { TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { clientAssertion, postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "ops-observability";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

describe("metrics and request logs after traffic on every surface", () => {
  let harness: TesseraHarness;
  let jwksServer: Server;
  const sessions: Http2SessionManager[] = [];
  /** Everything a log or a metric must never contain. */
  const secrets: string[] = [];
  /** Request ids sent, one per request. */
  const requestIds: string[] = [];
  let metrics = "";

  /** Sends a token request over HTTP with a request id of its own. */
  async function token(params: Record<string, string>, credentials?: [string, string], realm = REALM) {
    const id = `obs-${requestIds.length}`;
    requestIds.push(id);
    const answer = await postForm(harness.tokenUrl(realm), params, { basic: credentials, headers: { "x-request-id": id } });
    assert.equal(answer.headers.get("x-request-id"), id, "the caller's request id is answered");
    if (typeof answer.body.access_token === "string") secrets.push(answer.body.access_token);
    return answer;
  }

  /** Calls ClientCredentials over a Connect transport with a request id of its own; returns the error code or "ok". */
  async function rpc(transport: Transport, scope: string, secret: string): Promise<string> {
    const id = `obs-${requestIds.length}`;
    requestIds.push(id);
    try {
      const answer = await createClient(TokenExchangeService, transport).clientCredentials(
        { realm: REALM, scope },
        { headers: { authorization: basic("gateway", secret), "x-request-id": id } },
      );
      secrets.push(answer.accessToken);
      return "ok";
    } catch (error) {
      return String((error as Error).message);
    }
  }

  before(async () => {
    harness = await startTessera({ operations: { processMetrics: true } });
    const realm = await buildTestRealm(REALM);
    await harness.repository.importRealm(realm.bundle);
    secrets.push(...Object.values(SECRETS), basic("gateway", SECRETS.gateway).slice(6));

    // A client whose keys are fetched from its jwksUri (a JWKS fetch the metrics time).
    const remoteKeys = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(remoteKeys.publicKey)), kid: "remote-1", alg: "ES256", use: "sig" };
    jwksServer = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    const template = realm.bundle.clients.find((c) => c.clientId === "batch-job");
    assert.ok(template);
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
    await harness.repository.createClient(REALM, { ...template, clientId: "remote-keys", jwks: undefined, jwksUri });

    // HTTP: client credentials, token exchange, private_key_jwt (inline and remote keys), failures.
    const issued = await token({ grant_type: "client_credentials", scope: "orders.read" }, ["gateway", SECRETS.gateway]);
    assert.equal(issued.status, 200);
    const exchanged = await token(
      { grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: String(issued.body.access_token), subject_token_type: ACCESS_TOKEN, audience: "orders-api" },
      ["gateway", SECRETS.gateway],
    );
    assert.equal(exchanged.status, 200);
    for (const client of [realm.batchJob, { clientId: "remote-keys", kid: "remote-1", privateKey: remoteKeys.privateKey }]) {
      const assertion = await clientAssertion(client, harness.issuer(REALM));
      secrets.push(assertion);
      const answer = await token({
        grant_type: "client_credentials",
        client_id: client.clientId,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: assertion,
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    assert.equal((await token({ grant_type: "client_credentials" }, ["gateway", "wrong-secret-value"])).status, 401);
    secrets.push("wrong-secret-value");
    const forged = `${String(issued.body.access_token).slice(0, -8)}AAAAAAAA`;
    secrets.push(forged);
    const refused = await token({ grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: forged, subject_token_type: ACCESS_TOKEN }, ["gateway", SECRETS.gateway]);
    assert.equal(refused.body.error, "invalid_request");
    assert.equal((await token({ grant_type: "client_credentials" }, ["gateway", SECRETS.gateway], "no-such-realm-xyz")).status, 404);
    assert.equal((await token({ grant_type: "password" }, ["gateway", SECRETS.gateway])).body.error, "unsupported_grant_type");

    // RPC surfaces: gRPC ok, gRPC-Web invalid_scope, Connect invalid_client.
    const h2 = new Http2SessionManager(harness.baseUrl);
    sessions.push(h2);
    assert.equal(await rpc(createGrpcTransport({ baseUrl: harness.baseUrl, sessionManager: h2 }), "orders.read", SECRETS.gateway), "ok");
    assert.match(await rpc(createGrpcWebTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1" }), "admin", SECRETS.gateway), /admin/);
    assert.match(await rpc(createConnectTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1" }), "", "wrong-secret-value"), /authentication failed/);

    metrics = await (await fetch(`${harness.baseUrl}/metrics`)).text();
  });

  after(async () => {
    for (const session of sessions) session.abort();
    jwksServer?.close();
    await harness?.stop();
  });

  /** The value of one series of the scrape, or undefined. */
  function series(name: string, labels: Record<string, string>): number | undefined {
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    const line = metrics.split("\n").find((l) => l.startsWith(`${name}{`) && wanted.every((pair) => l.includes(pair)));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
  }

  it("counts requests by surface, operation (RPC or endpoint/grant), result and OAuth error", () => {
    const rpcName = "tessera.exchange.v1.TokenExchangeService/ClientCredentials";
    const expected: [Record<string, string>, number][] = [
      [{ surface: "http", operation: "token/client_credentials", result: "ok", error: "" }, 3],
      [{ surface: "http", operation: "token/client_credentials", result: "error", error: "invalid_client" }, 1],
      [{ surface: "http", operation: "token/token_exchange", result: "ok", error: "" }, 1],
      [{ surface: "http", operation: "token/token_exchange", result: "error", error: "invalid_request" }, 1],
      [{ surface: "http", operation: "token/password", result: "error", error: "unsupported_grant_type" }, 1],
      [{ surface: "http", operation: "token/client_credentials", result: "error", error: "not_found" }, 1],
      [{ surface: "grpc", operation: rpcName, result: "ok", error: "" }, 1],
      [{ surface: "grpc-web", operation: rpcName, result: "error", error: "invalid_scope" }, 1],
      [{ surface: "connect", operation: rpcName, result: "error", error: "invalid_client" }, 1],
    ];
    for (const [labels, value] of expected) assert.equal(series("tessera_requests_total", labels), value, JSON.stringify(labels));
    assert.ok((series("tessera_request_duration_seconds_count", { surface: "grpc", operation: rpcName }) ?? 0) >= 1);
    assert.ok(metrics.includes('tessera_request_duration_seconds_bucket{le="0.005",surface="http",operation="token/client_credentials"}'));
  });

  it("counts issued tokens by realm and type, and client authentication failures by surface", () => {
    assert.equal(series("tessera_tokens_issued_total", { realm: REALM, token_type: "access_token" }), 5);
    assert.equal(series("tessera_client_authentication_failures_total", { surface: "http" }), 1);
    assert.equal(series("tessera_client_authentication_failures_total", { surface: "connect" }), 1);
  });

  it("times storage calls by method and result, remote JWKS fetches, and exports process metrics and readiness", () => {
    // Configuration reads are cached for a few seconds, so they reach storage at least once; lineage on every exchange.
    assert.ok((series("tessera_storage_operation_duration_seconds_count", { operation: "getClient", result: "ok" }) ?? 0) >= 1);
    assert.ok((series("tessera_storage_operation_duration_seconds_count", { operation: "getRealm", result: "ok" }) ?? 0) >= 1);
    assert.ok((series("tessera_storage_operation_duration_seconds_count", { operation: "listSigningKeys", result: "ok" }) ?? 0) >= 1);
    assert.ok((series("tessera_jwks_fetch_duration_seconds_count", { result: "ok" }) ?? 0) >= 1);
    for (const name of ["process_cpu_user_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds"]) {
      assert.match(metrics, new RegExp(`^${name} `, "m"), name);
    }
    assert.match(metrics, /^tessera_ready 1$/m);
  });

  it("no label carries a token, a secret, an unknown realm's name or a raw path", () => {
    for (const secret of secrets) assert.ok(!metrics.includes(secret), "a secret in the metrics");
    assert.ok(!metrics.includes("no-such-realm-xyz"));
    assert.ok(!metrics.includes("/realms/"));
  });

  it("logs one JSON line per request with its request id, operation, status and OAuth error", () => {
    const lines = harness.logs().map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = lines.filter((line) => line.msg === "request");
    for (const id of requestIds) assert.equal(requests.filter((line) => line.reqId === id).length, 1, `one line for ${id}`);
    const failed = requests.find((line) => line.reqId === requestIds[4]);
    assert.deepEqual(
      { surface: failed?.surface, operation: failed?.operation, status: failed?.status, result: failed?.result, error: failed?.error },
      { surface: "http", operation: "token/client_credentials", status: 401, result: "error", error: "invalid_client" },
    );
    assert.equal(typeof failed?.durationMs, "number");
    assert.equal(failed?.path, `/realms/${REALM}/protocol/openid-connect/token`);
    const audited = lines.filter((line) => line.reqId === requestIds[0] && line.msg !== "request");
    assert.ok(audited.length >= 1, "lines written while serving the request carry its id");
  });

  it("the log holds no issued token, client secret, client assertion or subject token, on success or failure", () => {
    const log = harness.logs().join("\n");
    assert.ok(secrets.length >= 12);
    for (const secret of secrets) assert.ok(!log.includes(secret), `found a secret in the log: ${secret.slice(0, 12)}...`);
  });

  it("x-request-id: a safe one is answered as given; an unsafe or oversized one is replaced by a new UUID", async () => {
    const given = await fetch(`${harness.baseUrl}/healthz`, { headers: { "x-request-id": "trace-7f3a:01" } });
    assert.equal(given.headers.get("x-request-id"), "trace-7f3a:01");
    for (const unsafe of ["has space", "x".repeat(129), 'quote"inside', "new%0Aline", "{json}"]) {
      const answer = await fetch(`${harness.baseUrl}/healthz`, { headers: { "x-request-id": unsafe } });
      assert.match(answer.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, unsafe);
    }
    const none = await fetch(`${harness.baseUrl}/healthz`);
    assert.match(none.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });
});
