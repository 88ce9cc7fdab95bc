/** CORS for browser clients: off by default; allowed origins on the OAuth endpoints and the Connect / gRPC-Web protocols. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "ops-cors";
const APP = "https://app.example.com";
const basic = `Basic ${Buffer.from(`gateway:${SECRETS.gateway}`).toString("base64")}`;

function preflight(baseUrl: string, path: string, origin: string, headers = "authorization, content-type"): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers },
  });
}

describe("CORS", () => {
  let off: TesseraHarness;
  let on: TesseraHarness;
  let any: TesseraHarness;
  const tokenPath = `/realms/${REALM}/protocol/openid-connect/token`;
  const rpcPath = "/tessera.exchange.v1.TokenExchangeService/ClientCredentials";

  before(async () => {
    [off, on, any] = await Promise.all([
      startTessera(),
      startTessera({ operations: { corsOrigins: [APP] } }),
      startTessera({ operations: { corsOrigins: ["*"] } }),
    ]);
    const { bundle } = await buildTestRealm(REALM);
    for (const harness of [off, on, any]) await harness.repository.importRealm(structuredClone(bundle));
  });

  after(async () => {
    await Promise.all([off?.stop(), on?.stop(), any?.stop()]);
  });

  it("off by default: no CORS header on a preflight or a request", async () => {
    const pre = await preflight(off.baseUrl, tokenPath, APP);
    await pre.body?.cancel();
    assert.equal(pre.headers.get("access-control-allow-origin"), null);
    const answer = await fetch(`${off.baseUrl}/healthz`, { headers: { origin: APP } });
    assert.equal(answer.headers.get("access-control-allow-origin"), null);
  });

  it("an allowed origin's preflight then 204 allowing POST, Authorization and the Connect and gRPC-Web headers", async () => {
    for (const path of [tokenPath, rpcPath]) {
      const answer = await preflight(on.baseUrl, path, APP, "authorization, content-type, connect-protocol-version, x-grpc-web");
      assert.equal(answer.status, 204, path);
      assert.equal(answer.headers.get("access-control-allow-origin"), APP);
      assert.match(answer.headers.get("access-control-allow-methods") ?? "", /POST/);
      const allowed = (answer.headers.get("access-control-allow-headers") ?? "").split(", ");
      for (const header of ["authorization", "content-type", "connect-protocol-version", "x-grpc-web", "x-user-agent"]) {
        assert.ok(allowed.includes(header), `${header} in ${allowed.join(",")}`);
      }
      assert.equal(answer.headers.get("access-control-allow-credentials"), null, "no credentials mode");
      assert.match(answer.headers.get("vary") ?? "", /origin/i);
    }
  });

  it("another origin's preflight then no allow header: the browser refuses", async () => {
    const answer = await preflight(on.baseUrl, tokenPath, "https://evil.example.net");
    assert.equal(answer.headers.get("access-control-allow-origin"), null);
    assert.equal(answer.headers.get("access-control-allow-methods"), null);
  });

  it("a token request and a Connect call from an allowed origin then the answer may be read, with its request id and challenge", async () => {
    const token = await fetch(`${on.baseUrl}${tokenPath}`, {
      method: "POST",
      headers: { origin: APP, authorization: basic, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    assert.equal(token.status, 200);
    assert.equal(token.headers.get("access-control-allow-origin"), APP);
    const exposed = token.headers.get("access-control-expose-headers") ?? "";
    for (const header of ["x-request-id", "www-authenticate", "grpc-status", "grpc-message"]) assert.match(exposed, new RegExp(header));
    const rpc = await fetch(`${on.baseUrl}${rpcPath}`, {
      method: "POST",
      headers: { origin: APP, authorization: basic, "content-type": "application/json", "connect-protocol-version": "1" },
      body: JSON.stringify({ realm: REALM }),
    });
    assert.equal(rpc.status, 200);
    assert.equal(rpc.headers.get("access-control-allow-origin"), APP);
    const other = await fetch(`${on.baseUrl}/healthz`, { headers: { origin: "https://evil.example.net" } });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  });

  it("* then any origin, answered with *", async () => {
    const answer = await preflight(any.baseUrl, tokenPath, "https://whoever.example.org");
    assert.equal(answer.status, 204);
    assert.equal(answer.headers.get("access-control-allow-origin"), "*");
  });
});
