/**
 * Interop: `buf curl` (the @bufbuild/buf npm package, offline, schema from proto/) as an operator would
 * type it, run as a child process against the real server.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { OAuthErrorSchema } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "interop-buf-curl";
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The binary itself, not `npx buf`: npx costs a second per call. */
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const SERVICE = "tessera.exchange.v1.TokenExchangeService";

interface BufCurlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `buf curl --schema proto ...args` from the repository root. */
function bufCurl(args: string[]): Promise<BufCurlResult> {
  return new Promise((resolve, reject) => {
    execFile(BUF, ["curl", "--schema", "proto", ...args], { cwd: REPO_ROOT, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error); // could not run at all
      resolve({ exitCode: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

function basicAuthorization(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

/** What `buf curl` prints on stderr for a failed RPC. */
interface BufCurlError {
  code: string;
  message: string;
  details: { type: string; value: string; debug?: Record<string, string> }[];
}

/** `buf curl --help`: a failed RPC exits with "the gRPC code, shifted three bits to the left". */
const exitCodeOf = (grpcCode: number) => grpcCode << 3;

describe("buf curl against Tessera", () => {
  let harness: TesseraHarness;
  let url: (method: string) => string;
  let verify: (token: string) => ReturnType<typeof jwtVerify>;

  before(async () => {
    harness = await startTessera();
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    url = (method) => `${harness.baseUrl}/${SERVICE}/${method}`;
    const jwks = createRemoteJWKSet(new URL(`${harness.issuer(REALM)}/protocol/openid-connect/certs`));
    verify = (token) => jwtVerify(token, jwks, { issuer: harness.issuer(REALM), typ: "at+jwt" });
  });

  after(async () => {
    await harness?.stop();
  });

  for (const protocol of [
    { name: "grpc", flags: ["--protocol", "grpc", "--http2-prior-knowledge"] },
    { name: "connect", flags: ["--protocol", "connect"] },
  ]) {
    it(`--protocol ${protocol.name}: ClientCredentials with -H authorization: Basic prints JSON with a verifiable access token`, async () => {
      const result = await bufCurl([
        ...protocol.flags,
        "-d",
        JSON.stringify({ realm: REALM, scope: "orders.read" }),
        "-H",
        `authorization: ${basicAuthorization("gateway", SECRETS.gateway)}`,
        url("ClientCredentials"),
      ]);
      assert.equal(result.exitCode, 0, result.stderr);
      const body = JSON.parse(result.stdout) as { accessToken: string; tokenType: string; expiresIn: string; scope: string };
      assert.equal(body.tokenType, "Bearer");
      assert.equal(body.expiresIn, "300", "int64 is a JSON string in the proto3 JSON mapping");
      assert.equal(body.scope, "orders.read");
      const { payload, protectedHeader } = await verify(body.accessToken);
      assert.equal(protectedHeader.typ, "at+jwt");
      assert.equal(payload.aud, "orders-api");
      assert.equal(payload.azp, "gateway");
      assert.equal(payload.scope, "orders.read");
    });
  }

  it("--protocol grpc: ExchangeToken with client fields in the body (client_secret_post style) exchanges a token", async () => {
    const issued = await bufCurl([
      "--protocol", "grpc", "--http2-prior-knowledge",
      "-d", JSON.stringify({ realm: REALM, scope: "orders.read", client: { clientId: "gateway", clientSecret: SECRETS.gateway } }),
      url("ClientCredentials"),
    ]);
    assert.equal(issued.exitCode, 0, issued.stderr);
    const subjectToken = (JSON.parse(issued.stdout) as { accessToken: string }).accessToken;
    const exchanged = await bufCurl([
      "--protocol", "grpc", "--http2-prior-knowledge",
      "-d",
      JSON.stringify({
        realm: REALM,
        client: { clientId: "gateway", clientSecret: SECRETS.gateway },
        subjectToken,
        subjectTokenType: "urn:ietf:params:oauth:token-type:access_token",
        audience: ["orders-api"],
        scope: "orders.read",
      }),
      url("ExchangeToken"),
    ]);
    assert.equal(exchanged.exitCode, 0, exchanged.stderr);
    const body = JSON.parse(exchanged.stdout) as { accessToken: string; issuedTokenType: string; tokenType: string };
    assert.equal(body.issuedTokenType, "urn:ietf:params:oauth:token-type:access_token");
    assert.equal(body.tokenType, "Bearer");
    const { payload } = await verify(body.accessToken);
    assert.equal(payload.aud, "orders-api");
    assert.equal(payload.sub, (await verify(subjectToken)).payload.sub);
  });

  for (const protocol of [
    { name: "grpc", flags: ["--protocol", "grpc", "--http2-prior-knowledge"] },
    { name: "connect", flags: ["--protocol", "connect"] },
  ]) {
    it(`--protocol ${protocol.name}: a wrong secret exits 128 (unauthenticated) and prints the OAuthError detail invalid_client`, async () => {
      const result = await bufCurl([
        ...protocol.flags,
        "-d", JSON.stringify({ realm: REALM }),
        "-H", `authorization: ${basicAuthorization("gateway", "wrong-secret")}`,
        url("ClientCredentials"),
      ]);
      assert.equal(result.exitCode, exitCodeOf(16));
      assert.equal(result.stdout, "");
      const error = JSON.parse(result.stderr) as BufCurlError;
      assert.equal(error.code, "unauthenticated");
      assert.equal(error.message, "client authentication failed");
      assert.equal(error.details.length, 1);
      assert.equal(error.details[0].type, "tessera.exchange.v1.OAuthError");
      const detail = fromBinary(OAuthErrorSchema, Buffer.from(error.details[0].value, "base64"));
      assert.equal(detail.error, "invalid_client");
      assert.doesNotMatch(result.stderr, /wrong-secret/);
    });
  }

  it("--protocol grpcweb: a scope the client may not have exits 24 (invalid_argument) with detail invalid_scope", async () => {
    const result = await bufCurl([
      "--protocol", "grpcweb",
      "-d", JSON.stringify({ realm: REALM, scope: "admin" }),
      "-H", `authorization: ${basicAuthorization("gateway", SECRETS.gateway)}`,
      url("ClientCredentials"),
    ]);
    assert.equal(result.exitCode, exitCodeOf(3));
    const error = JSON.parse(result.stderr) as BufCurlError;
    assert.equal(error.code, "invalid_argument");
    assert.equal(fromBinary(OAuthErrorSchema, Buffer.from(error.details[0].value, "base64")).error, "invalid_scope");
  });
});
