/**
 * Interop: the `--grpc-port` (gRPC through `@grpc/grpc-js`) against a plain grpc-js client built
 * from proto/ with proto-loader: tokens that verify, refusals that decode exactly as on the main
 * port, undecodable requests, metrics and request logs on the main port, health, mutual TLS, and
 * `tessera serve --grpc-port` as a process (start-up line, SIGTERM drain).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import {
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/health/v1/health_pb.js";
import { certificate, certificateAuthority, localhostCertificate, thumbprint, type Pem } from "../support/certificates.js";
import {
  basic,
  call,
  decodeStatusDetails,
  loadTokenExchangeClient,
  type ClientCredentialsRequest,
  type ExchangeTokenRequest,
  type TokenExchangeClient,
} from "../support/grpc-js-client.js";
import { bannerOf, eventually } from "../ops/support.js";
import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "interop-grpc-port";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const CLIENT_CREDENTIALS = "tessera.exchange.v1.TokenExchangeService/ClientCredentials";
const TokenExchangeService = loadTokenExchangeClient();

/** A unary call with raw request bytes, as a client with another schema (or a broken one) would send. */
function rawCall(address: string, path: string, body: Uint8Array, metadata = new grpc.Metadata()) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<{ response?: Buffer; error?: grpc.ServiceError }>((resolve) => {
    client.makeUnaryRequest(
      path,
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      Buffer.from(body),
      metadata,
      (error, response) => {
        client.close();
        resolve(error ? { error } : { response });
      },
    );
  });
}

/** The value of one series of a Prometheus scrape (0 when absent). */
function series(scrape: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = scrape.split("\n").find((l) => l.startsWith(`${name}{`) && wanted.every((pair) => l.includes(pair)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("--grpc-port: TokenExchangeService through @grpc/grpc-js", () => {
  let harness: TesseraHarness;
  let grpcPort: TokenExchangeClient;
  let mainPort: TokenExchangeClient;

  before(async () => {
    harness = await startTessera({ grpcPort: true });
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    assert.ok(harness.grpcAddress);
    assert.notEqual(harness.grpcServer?.port, harness.port, "a port of its own");
    grpcPort = new TokenExchangeService(harness.grpcAddress, grpc.credentials.createInsecure());
    mainPort = new TokenExchangeService(`127.0.0.1:${harness.port}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    grpcPort?.close();
    mainPort?.close();
    await harness?.stop();
  });

  const clientCredentials = (client: TokenExchangeClient, request: ClientCredentialsRequest, metadata = new grpc.Metadata()) =>
    call(client.ClientCredentials, client, request, metadata);
  const exchangeToken = (client: TokenExchangeClient, request: ExchangeTokenRequest, metadata = new grpc.Metadata()) =>
    call(client.ExchangeToken, client, request, metadata);

  it("client credentials (Basic metadata) then ExchangeToken: the issued token verifies against the realm JWKS", async () => {
    const cc = await clientCredentials(grpcPort, { realm: REALM, scope: "orders.read" }, basic("gateway", SECRETS.gateway));
    assert.equal(cc.error, undefined);
    assert.ok(cc.response);
    assert.equal(cc.response.expiresIn, "300");
    const { response, error } = await exchangeToken(
      grpcPort,
      { realm: REALM, subjectToken: cc.response.accessToken, subjectTokenType: ACCESS_TOKEN_TYPE, audience: ["orders-api"], scope: "orders.read" },
      basic("gateway", SECRETS.gateway),
    );
    assert.equal(error, undefined);
    assert.ok(response);
    assert.equal(response.issuedTokenType, ACCESS_TOKEN_TYPE);
    assert.equal(response.tokenType, "Bearer");
    const jwks = createRemoteJWKSet(new URL(`${harness.issuer(REALM)}/protocol/openid-connect/certs`));
    const { payload, protectedHeader } = await jwtVerify(response.accessToken, jwks, { issuer: harness.issuer(REALM), audience: "orders-api", typ: "at+jwt" });
    assert.equal(protectedHeader.typ, "at+jwt");
    assert.equal(payload.azp, "gateway");
    assert.equal(payload.scope, "orders.read");
    assert.equal(payload.sub, decodeJwt(cc.response.accessToken).sub, "the subject stays the same");
  });

  it("credentials in the request's client message work without metadata", async () => {
    const { response, error } = await clientCredentials(grpcPort, { realm: REALM, client: { clientId: "post-only", clientSecret: SECRETS["post-only"] } });
    assert.equal(error, undefined);
    assert.equal(decodeJwt(response?.accessToken ?? "").azp, "post-only");
  });

  it("a wrong Basic secret: the same UNAUTHENTICATED, OAuthError detail and challenge as the main port", async () => {
    const request = { realm: REALM };
    const [viaGrpcPort, viaMainPort] = await Promise.all(
      [grpcPort, mainPort].map((client) => clientCredentials(client, request, basic("gateway", "not-the-secret"))),
    );
    for (const { error } of [viaGrpcPort, viaMainPort]) {
      assert.ok(error);
      assert.equal(error.code, grpc.status.UNAUTHENTICATED);
      assert.match(String(error.metadata.get("www-authenticate")[0] ?? ""), /^Basic /);
    }
    assert.ok(viaGrpcPort.error && viaMainPort.error);
    const details = decodeStatusDetails(viaGrpcPort.error);
    assert.equal(details.oauth?.error, "invalid_client");
    assert.deepEqual(details, decodeStatusDetails(viaMainPort.error));
    assert.equal(viaGrpcPort.error.details, viaMainPort.error.details);
    assert.ok(!JSON.stringify(details).includes("not-the-secret"), "the secret is never echoed");
  });

  it("a refused exchange (more scope than the subject token): the same INVALID_ARGUMENT and invalid_scope detail on both ports", async () => {
    const cc = await clientCredentials(grpcPort, { realm: REALM, scope: "orders.read" }, basic("gateway", SECRETS.gateway));
    assert.ok(cc.response);
    const request = { realm: REALM, subjectToken: cc.response.accessToken, subjectTokenType: ACCESS_TOKEN_TYPE, scope: "orders.write" };
    const [viaGrpcPort, viaMainPort] = await Promise.all([grpcPort, mainPort].map((client) => exchangeToken(client, request, basic("gateway", SECRETS.gateway))));
    assert.ok(viaGrpcPort.error && viaMainPort.error);
    assert.equal(viaGrpcPort.error.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(viaGrpcPort.error.code, viaMainPort.error.code);
    const details = decodeStatusDetails(viaGrpcPort.error);
    assert.deepEqual(details.detailTypes, ["type.googleapis.com/tessera.exchange.v1.OAuthError"]);
    assert.equal(details.oauth?.error, "invalid_scope");
    assert.deepEqual(details, decodeStatusDetails(viaMainPort.error));
  });

  it("bytes that are not protobuf: INTERNAL like the main port, and the server keeps serving", async () => {
    const notProtobuf = Uint8Array.from([0x0a, 0x05, 0x61]); // field 1 says 5 bytes, 1 follows
    const [viaGrpcPort, viaMainPort] = await Promise.all(
      [harness.grpcAddress ?? "", `127.0.0.1:${harness.port}`].map((address) => rawCall(address, `/${CLIENT_CREDENTIALS}`, notProtobuf)),
    );
    assert.equal(viaGrpcPort.error?.code, grpc.status.INTERNAL);
    assert.equal(viaGrpcPort.error?.code, viaMainPort.error?.code);
    assert.equal(viaGrpcPort.error?.details, "parse binary: premature EOF");
    // Connect percent-encodes grpc-message with encodeURIComponent, grpc-js decodes it with decodeURI: ":" stays "%3A".
    assert.equal(viaGrpcPort.error?.details, decodeURIComponent(viaMainPort.error?.details ?? ""));
    const { error } = await clientCredentials(grpcPort, { realm: REALM, scope: "orders.read" }, basic("gateway", SECRETS.gateway));
    assert.equal(error, undefined);
  });

  it("an unknown method: UNIMPLEMENTED", async () => {
    const { error } = await rawCall(harness.grpcAddress ?? "", "/tessera.exchange.v1.TokenExchangeService/NoSuchMethod", new Uint8Array());
    assert.equal(error?.code, grpc.status.UNIMPLEMENTED);
  });

  it("calls show in the main port's /metrics and in the request log, with the caller's x-request-id answered", async () => {
    const labels = (result: string, error: string) => ({ surface: "grpc", operation: CLIENT_CREDENTIALS, result, error });
    const scrape = async () => (await fetch(`${harness.baseUrl}/metrics`)).text();
    const before = await scrape();

    const metadata = basic("gateway", SECRETS.gateway);
    metadata.set("x-request-id", "grpc-port-ok-1");
    const answered = await new Promise<grpc.Metadata>((resolve, reject) => {
      let header = new grpc.Metadata();
      const pending = grpcPort.ClientCredentials({ realm: REALM, scope: "orders.read" }, metadata, (error) => (error ? reject(error) : resolve(header)));
      pending.on("metadata", (received: grpc.Metadata) => (header = received));
    });
    assert.equal(answered.get("x-request-id")[0], "grpc-port-ok-1");
    const refused = basic("gateway", "wrong");
    refused.set("x-request-id", "grpc-port-refused-1");
    assert.ok((await clientCredentials(grpcPort, { realm: REALM }, refused)).error);
    await rawCall(harness.grpcAddress ?? "", `/${CLIENT_CREDENTIALS}`, Uint8Array.from([0xff]));

    const after = await scrape();
    const delta = (name: string, l: Record<string, string>) => series(after, name, l) - series(before, name, l);
    assert.equal(delta("tessera_requests_total", labels("ok", "")), 1);
    assert.equal(delta("tessera_requests_total", labels("error", "invalid_client")), 1);
    assert.equal(delta("tessera_requests_total", labels("error", "internal")), 1, "an undecodable request is counted");
    assert.equal(delta("tessera_client_authentication_failures_total", { surface: "grpc" }), 1);
    assert.equal(delta("tessera_tokens_issued_total", { realm: REALM, token_type: "access_token" }), 1);
    assert.equal(delta("tessera_request_duration_seconds_count", { surface: "grpc", operation: CLIENT_CREDENTIALS }), 3);

    const lines = harness.logs().map((line) => JSON.parse(line) as Record<string, unknown>);
    const ok = lines.find((line) => line.msg === "request" && line.reqId === "grpc-port-ok-1");
    assert.ok(ok, "one request line with the caller's id");
    assert.equal(ok.surface, "grpc");
    assert.equal(ok.operation, CLIENT_CREDENTIALS);
    assert.equal(ok.path, `/${CLIENT_CREDENTIALS}`);
    assert.equal(ok.result, "ok");
    assert.equal(ok.remoteAddress, "127.0.0.1");
    const failed = lines.find((line) => line.msg === "request" && line.reqId === "grpc-port-refused-1");
    assert.equal(failed?.error, "invalid_client");
    assert.ok(
      lines.some((line) => line.reqId === "grpc-port-refused-1" && line.msg !== "request"),
      "lines written while serving the call (the audit event) carry its id",
    );
    assert.ok(!JSON.stringify(lines).includes(SECRETS.gateway));
  });

  it("grpc.health.v1.Health Check: SERVING for the overall status and the service, NOT_FOUND for an unknown one", async () => {
    const check = async (service: string) => {
      const request = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }));
      const { response, error } = await rawCall(harness.grpcAddress ?? "", "/grpc.health.v1.Health/Check", request);
      return { status: response && fromBinary(HealthCheckResponseSchema, response).status, error };
    };
    assert.equal((await check("")).status, ServingStatus.SERVING);
    assert.equal((await check("tessera.exchange.v1.TokenExchangeService")).status, ServingStatus.SERVING);
    assert.equal((await check("tessera.admin.v1.AdminService")).error?.code, grpc.status.NOT_FOUND, "not served on this port");
  });
});

describe("--grpc-port: an unexpected failure", () => {
  it("is answered INTERNAL server_error with an error id, logged, and nothing of it leaks", async () => {
    const memory = new MemoryRealmRepository();
    let broken = false;
    const repository = new Proxy(memory, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) =>
          broken && property === "getClient" ? Promise.reject(new Error("driver exploded at 10.1.2.3")) : Reflect.apply(value, target, args);
      },
    });
    const harness = await startTessera({ repository, grpcPort: true, configurationCacheTtlMs: 0 });
    const client = new TokenExchangeService(harness.grpcAddress ?? "", grpc.credentials.createInsecure());
    try {
      await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
      broken = true;
      const { error } = await call(client.ClientCredentials, client, { realm: REALM }, basic("gateway", SECRETS.gateway));
      assert.equal(error?.code, grpc.status.INTERNAL);
      assert.ok(error);
      const details = decodeStatusDetails(error);
      assert.equal(details.oauth?.error, "server_error");
      assert.ok(!JSON.stringify({ details, message: error.details }).includes("exploded"), "no internals in the answer");
      const logged = harness.logs().find((line) => line.includes("driver exploded"));
      assert.ok(logged, "the failure is logged");
      assert.ok(error.details.includes(String((JSON.parse(logged) as { errorId: string }).errorId)), "the answer names the logged error id");
    } finally {
      client.close();
      await harness.stop();
    }
  });
});

describe("--grpc-port with mutual TLS (RFC 8705)", () => {
  let harness: TesseraHarness;
  let ca: Pem;
  let client: Pem;

  before(async () => {
    ca = await certificateAuthority("Tessera Test CA");
    client = await certificate({ CN: "batch-mtls", O: "Acme" }, ca);
    harness = await startTessera({ tls: { ...(await localhostCertificate(ca)), ca: ca.cert }, grpcPort: true });
    const realm = await buildTestRealm(REALM);
    const template = realm.bundle.clients.find((c) => c.clientId === "gateway");
    assert.ok(template);
    realm.bundle.clients.push({
      ...template,
      clientId: "mtls-client",
      secretHash: undefined,
      authMethods: ["tls_client_auth"],
      tlsClientAuthSubjectDn: "O=Acme, CN=batch-mtls",
      certificateBoundAccessTokens: true,
      serviceAccountUserId: "mtls-sa",
    });
    await harness.repository.importRealm(realm.bundle);
  });
  after(() => harness?.stop());

  /** ClientCredentials over TLS to the gRPC port, presenting `presented` as the client certificate when given. */
  async function overTls(request: ClientCredentialsRequest, presented?: Pem, metadata = new grpc.Metadata()) {
    const credentials = presented
      ? grpc.credentials.createSsl(Buffer.from(ca.cert), Buffer.from(presented.key), Buffer.from(presented.cert))
      : grpc.credentials.createSsl(Buffer.from(ca.cert));
    const stub = new TokenExchangeService(harness.grpcAddress ?? "", credentials);
    try {
      return await call(stub.ClientCredentials, stub, request, metadata);
    } finally {
      stub.close();
    }
  }

  it("tls_client_auth with a certificate from the client CA: a token bound to it (cnf x5t#S256)", async () => {
    assert.equal(harness.grpcServer?.secure, true);
    const { response, error } = await overTls({ realm: REALM, client: { clientId: "mtls-client" }, scope: "orders.read" }, client);
    assert.equal(error, undefined);
    const claims = decodeJwt(response?.accessToken ?? "");
    assert.equal(claims.client_id, "mtls-client");
    assert.deepEqual(claims.cnf, { "x5t#S256": thumbprint(client.cert) });
  });

  it("a certificate is asked for, not required: a secret client without one is served", async () => {
    const { response, error } = await overTls({ realm: REALM, scope: "orders.read" }, undefined, basic("gateway", SECRETS.gateway));
    assert.equal(error, undefined);
    assert.equal(decodeJwt(response?.accessToken ?? "").cnf, undefined);
  });

  it("a reloaded certificate serves new connections of the gRPC port", async () => {
    const subjectOfNewConnection = () =>
      new Promise<unknown>((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port: harness.grpcServer?.port, ca: ca.cert, ALPNProtocols: ["h2"] }, () => {
          resolve(socket.getPeerCertificate().subject?.O);
          socket.destroy();
        });
        socket.once("error", reject);
      });
    assert.equal(await subjectOfNewConnection(), undefined);
    const renewed = await certificate({ CN: "127.0.0.1", O: "Renewed" }, ca, [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }]);
    harness.grpcServer?.setCredentials({ ...renewed, ca: ca.cert });
    assert.equal(await subjectOfNewConnection(), "Renewed");
  });

  it("a self-signed certificate with the registered subject: UNAUTHENTICATED invalid_client", async () => {
    const rogue = await certificate({ CN: "batch-mtls", O: "Acme" });
    const { error } = await overTls({ realm: REALM, client: { clientId: "mtls-client" } }, rogue);
    assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
    assert.ok(error);
    assert.equal(decodeStatusDetails(error).oauth?.error, "invalid_client");
  });
});

describe("tessera serve --grpc-port", () => {
  it("names the gRPC port in the banner, serves the demo realm on it, and drains in-flight calls on SIGTERM, exit 0", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/tessera.ts", "serve", "--port", "0", "--grpc-port", "0", "--log-level", "warn"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    let stub: TokenExchangeClient | undefined;
    try {
      await eventually("the gRPC port in the banner", async () => bannerOf(stdout)?.urls.grpc !== undefined, 20_000);
      stub = new TokenExchangeService(new URL(bannerOf(stdout)?.urls.grpc ?? "").host, grpc.credentials.createInsecure());
      const client = stub;
      const request = () => call(client.ClientCredentials, client, { realm: "demo", scope: "orders.read" }, basic("gateway", "gateway-secret"));
      assert.equal((await request()).error, undefined, "warm-up");
      // Each call verifies an Argon2id secret: several are still in flight when the signal arrives.
      const inFlight = Array.from({ length: 8 }, request);
      await new Promise((resolve) => setTimeout(resolve, 20));
      child.kill("SIGTERM");
      const answers = await Promise.all(inFlight);
      assert.deepEqual(
        answers.map((a) => a.error?.code ?? "ok"),
        answers.map(() => "ok"),
        "every call already sent is answered",
      );
      assert.equal(await exited, 0);
    } finally {
      stub?.close();
      child.kill("SIGKILL");
    }
  });

  it("a --grpc-port that is taken: one line naming it and a non-zero exit", async () => {
    const taken = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      taken.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    try {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/tessera.ts", "serve", "--port", "0", "--grpc-port", String(port)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.notEqual(code, 0);
      // (Log lines go to stderr too.)
      assert.match(stderr, new RegExp(`^tessera: cannot listen on 127\\.0\\.0\\.1:${port} \\(--grpc-port\\): EADDRINUSE$`, "m"));
    } finally {
      taken.forceShutdown();
    }
  });
});
