/**
 * Interop: one TCP port serves HTTP/1.1 (the OAuth form endpoint, JWKS, metadata) and cleartext
 * HTTP/2 (gRPC with prior knowledge, and the same OAuth endpoints), with raw node:http / node:http2
 * clients so nothing but the wire is assumed.
 */
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import {
  ClientCredentialsRequestSchema,
  ClientCredentialsResponseSchema,
} from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "interop-same-port";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

interface HttpAnswer {
  httpVersion: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function basicAuthorization(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

/** One HTTP/1.1 request with node:http, on a fresh connection (no agent). */
function http1(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? "GET", headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ httpVersion: res.httpVersion, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** One request on an HTTP/2 session; resolves with headers, body and trailers. */
function h2request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Uint8Array | string,
): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve({ headers: responseHeaders, body: Buffer.concat(chunks), trailers }));
    stream.on("error", reject);
    if (body !== undefined) stream.end(body);
  });
}

/** A gRPC length-prefixed message (uncompressed). */
function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

describe("one port: HTTP/1.1 and h2c side by side", () => {
  let harness: TesseraHarness;
  let session: http2.ClientHttp2Session;
  let verify: (token: string) => Promise<JWTPayload>;

  before(async () => {
    harness = await startTessera();
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    session = http2.connect(harness.baseUrl);
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    });
    const certs = await http1(`${harness.issuer(REALM)}/protocol/openid-connect/certs`);
    const jwks = createLocalJWKSet(JSON.parse(certs.body.toString("utf8")) as JSONWebKeySet);
    verify = async (token) => (await jwtVerify(token, jwks, { issuer: harness.issuer(REALM), typ: "at+jwt" })).payload;
  });

  after(async () => {
    session?.close();
    await harness?.stop();
  });

  const formPost = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    http1(harness.tokenUrl(REALM), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(form).toString(),
    });

  const grpcClientCredentials = (scope: string) =>
    h2request(
      session,
      {
        ":method": "POST",
        ":path": "/tessera.exchange.v1.TokenExchangeService/ClientCredentials",
        "content-type": "application/grpc+proto",
        te: "trailers",
        authorization: basicAuthorization("gateway", SECRETS.gateway),
      },
      grpcFrame(toBinary(ClientCredentialsRequestSchema, create(ClientCredentialsRequestSchema, { realm: REALM, scope }))),
    );

  it("an HTTP/1.1 form POST (Basic auth) and an h2c gRPC call on the same port both succeed, concurrently", async () => {
    const [form, grpc] = await Promise.all([
      formPost({ grant_type: "client_credentials", scope: "orders.read" }, { authorization: basicAuthorization("gateway", SECRETS.gateway) }),
      grpcClientCredentials("inventory.read"),
    ]);

    assert.equal(form.httpVersion, "1.1");
    assert.equal(form.status, 200);
    assert.match(String(form.headers["content-type"]), /^application\/json/);
    const formBody = JSON.parse(form.body.toString("utf8")) as { access_token: string; token_type: string; expires_in: number; scope: string };
    assert.equal(formBody.token_type, "Bearer");
    assert.equal(formBody.expires_in, 300);
    assert.equal(formBody.scope, "orders.read");
    const formToken = await verify(formBody.access_token);
    assert.equal(formToken.aud, "orders-api");
    assert.equal(formToken.azp, "gateway");

    assert.equal(grpc.headers[":status"], 200);
    assert.equal(grpc.headers["content-type"], "application/grpc+proto");
    assert.equal(grpc.trailers["grpc-status"], "0");
    assert.equal(grpc.body[0], 0, "uncompressed frame");
    assert.equal(grpc.body.readUInt32BE(1), grpc.body.length - 5);
    const response = fromBinary(ClientCredentialsResponseSchema, grpc.body.subarray(5));
    assert.equal(response.scope, "inventory.read");
    const grpcToken = await verify(response.accessToken);
    assert.equal(grpcToken.aud, "inventory-api");
    assert.equal(grpcToken.sub, formToken.sub, "both surfaces issue for the same service-account user");
  });

  it("a 200 from the token endpoint carries cache-control: no-store and pragma: no-cache", async () => {
    const answer = await formPost({ grant_type: "client_credentials", client_id: "post-only", client_secret: SECRETS["post-only"] });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers["cache-control"], "no-store");
    assert.equal(answer.headers.pragma, "no-cache");
  });

  it("an error from the token endpoint is never cached either, and Basic failures carry WWW-Authenticate", async () => {
    const answer = await formPost({ grant_type: "client_credentials" }, { authorization: basicAuthorization("gateway", "wrong") });
    assert.equal(answer.status, 401);
    assert.equal(answer.headers["cache-control"], "no-store");
    assert.equal(answer.headers.pragma, "no-cache");
    assert.match(String(answer.headers["www-authenticate"]), /^Basic /);
    assert.deepEqual(JSON.parse(answer.body.toString("utf8")), { error: "invalid_client", error_description: "client authentication failed" });
  });

  it("a JSON body at the token endpoint is invalid_request (form bodies only)", async () => {
    const answer = await http1(harness.tokenUrl(REALM), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: "post-only", client_secret: SECRETS["post-only"] }),
    });
    assert.equal(answer.status, 400);
    assert.equal((JSON.parse(answer.body.toString("utf8")) as { error: string }).error, "invalid_request");
  });

  it("a GET of the JWKS over HTTP/2 (http2.connect) returns the realm's public keys", async () => {
    const answer = await h2request(session, { ":method": "GET", ":path": `/realms/${REALM}/protocol/openid-connect/certs` });
    assert.equal(answer.headers[":status"], 200);
    assert.match(String(answer.headers["content-type"]), /^application\/json/);
    const jwks = JSON.parse(answer.body.toString("utf8")) as { keys: Record<string, unknown>[] };
    assert.ok(jwks.keys.length >= 1);
    for (const key of jwks.keys) {
      assert.equal(typeof key.kid, "string");
      for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k"]) assert.equal(key[secret], undefined, `no private part ${secret}`);
    }
    const issued = await formPost({ grant_type: "client_credentials", client_id: "post-only", client_secret: SECRETS["post-only"] });
    const token = (JSON.parse(issued.body.toString("utf8")) as { access_token: string }).access_token;
    await jwtVerify(token, createLocalJWKSet(jwks as JSONWebKeySet), { issuer: harness.issuer(REALM) });
  });

  it("the OAuth form endpoint answers over h2c too, with the same no-store headers", async () => {
    const answer = await h2request(
      session,
      {
        ":method": "POST",
        ":path": `/realms/${REALM}/protocol/openid-connect/token`,
        "content-type": "application/x-www-form-urlencoded",
        authorization: basicAuthorization("gateway", SECRETS.gateway),
      },
      new URLSearchParams({ grant_type: "client_credentials", scope: "orders.read" }).toString(),
    );
    assert.equal(answer.headers[":status"], 200);
    assert.equal(answer.headers["cache-control"], "no-store");
    assert.equal(answer.headers.pragma, "no-cache");
    const body = JSON.parse(answer.body.toString("utf8")) as { access_token: string };
    assert.equal((await verify(body.access_token)).aud, "orders-api");
  });

  for (const wellKnown of [".well-known/openid-configuration", ".well-known/oauth-authorization-server"]) {
    it(`metadata at ${wellKnown} lists the token-exchange grant and the issuer found in issued tokens`, async () => {
      const answer = await http1(`${harness.issuer(REALM)}/${wellKnown}`);
      assert.equal(answer.status, 200);
      const metadata = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
      assert.ok(Array.isArray(metadata.grant_types_supported));
      assert.ok(metadata.grant_types_supported.includes(TOKEN_EXCHANGE));
      assert.ok(metadata.grant_types_supported.includes("client_credentials"));
      assert.equal(metadata.token_endpoint, harness.tokenUrl(REALM));
      assert.equal(metadata.jwks_uri, `${harness.issuer(REALM)}/protocol/openid-connect/certs`);
      const issued = await formPost({ grant_type: "client_credentials", client_id: "post-only", client_secret: SECRETS["post-only"] });
      const token = (JSON.parse(issued.body.toString("utf8")) as { access_token: string }).access_token;
      assert.equal(metadata.issuer, decodeJwt(token).iss);
      assert.equal(metadata.issuer, harness.issuer(REALM));
    });
  }

  it("both well-known documents are the same document", async () => {
    const [oidc, oauth] = await Promise.all([
      http1(`${harness.issuer(REALM)}/.well-known/openid-configuration`),
      http1(`${harness.issuer(REALM)}/.well-known/oauth-authorization-server`),
    ]);
    assert.deepEqual(JSON.parse(oidc.body.toString("utf8")), JSON.parse(oauth.body.toString("utf8")));
  });
});
