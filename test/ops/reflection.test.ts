/**
 * Server reflection: `buf curl` with no `--schema` lists services and methods and calls
 * ExchangeToken from the descriptors the server describes (grpc.reflection.v1, then v1alpha).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "ops-reflection";
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const GRPC = ["--protocol", "grpc", "--http2-prior-knowledge"];

/** Runs `buf curl ...args` in a folder with no proto files: everything comes from reflection. */
function bufCurl(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(BUF, ["curl", ...args], { cwd: "/", timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ exitCode: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe("server reflection", () => {
  let harness: TesseraHarness;

  before(async () => {
    harness = await startTessera();
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
  });

  after(async () => {
    await harness?.stop();
  });

  it("buf curl --list-services and --list-methods with no schema then every served service and method", async () => {
    const services = await bufCurl([...GRPC, "--list-services", harness.baseUrl]);
    assert.equal(services.exitCode, 0, services.stderr);
    assert.deepEqual(services.stdout.trim().split("\n").sort(), [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "tessera.admin.v1.AdminService",
      "tessera.exchange.v1.TokenExchangeService",
    ]);
    const methods = await bufCurl([...GRPC, "--list-methods", harness.baseUrl]);
    assert.equal(methods.exitCode, 0, methods.stderr);
    const listed = methods.stdout.trim().split("\n");
    for (const method of [
      "tessera.exchange.v1.TokenExchangeService/ExchangeToken",
      "tessera.exchange.v1.TokenExchangeService/ClientCredentials",
      "tessera.admin.v1.AdminService/CreateRealm",
      "grpc.health.v1.Health/Check",
    ]) {
      assert.ok(listed.includes(method), `${method} in:\n${methods.stdout}`);
    }
  });

  for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
    it(`buf curl --reflect-protocol ${reflectProtocol} with no schema then ClientCredentials and ExchangeToken work`, async () => {
      const basic = `authorization: Basic ${Buffer.from(`gateway:${SECRETS.gateway}`).toString("base64")}`;
      const url = (method: string) => `${harness.baseUrl}/tessera.exchange.v1.TokenExchangeService/${method}`;
      const issued = await bufCurl([...GRPC, "--reflect-protocol", reflectProtocol, "-H", basic, "-d", JSON.stringify({ realm: REALM, scope: "orders.read" }), url("ClientCredentials")]);
      assert.equal(issued.exitCode, 0, issued.stderr);
      const subjectToken = (JSON.parse(issued.stdout) as { accessToken: string }).accessToken;
      const exchanged = await bufCurl([
        ...GRPC,
        "--reflect-protocol",
        reflectProtocol,
        "-H",
        basic,
        "-d",
        JSON.stringify({ realm: REALM, subjectToken, subjectTokenType: "urn:ietf:params:oauth:token-type:access_token", audience: ["orders-api"] }),
        url("ExchangeToken"),
      ]);
      assert.equal(exchanged.exitCode, 0, exchanged.stderr);
      const body = JSON.parse(exchanged.stdout) as { accessToken: string; issuedTokenType: string };
      assert.equal(body.issuedTokenType, "urn:ietf:params:oauth:token-type:access_token");
      assert.match(body.accessToken, /^eyJ/);
    });
  }

  it("file_containing_symbol for a method then its file and the files it imports; an unknown symbol then NOT_FOUND", async () => {
    const sessionManager = new Http2SessionManager(harness.baseUrl);
    try {
      const reflection = createClient(ServerReflection, createGrpcTransport({ baseUrl: harness.baseUrl, sessionManager }));
      async function* requests() {
        yield { messageRequest: { case: "fileContainingSymbol" as const, value: "tessera.exchange.v1.TokenExchangeService.ExchangeToken" } };
        yield { messageRequest: { case: "fileContainingSymbol" as const, value: "tessera.exchange.v1.NoSuchThing" } };
      }
      const answers = [];
      for await (const answer of reflection.serverReflectionInfo(requests())) answers.push(answer);
      assert.equal(answers.length, 2);
      const [found, missing] = answers;
      assert.equal(found.messageResponse.case, "fileDescriptorResponse");
      const files = found.messageResponse.case === "fileDescriptorResponse" ? found.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b)) : [];
      assert.equal(files[0]?.name, "tessera/exchange/v1/token_exchange_service.proto");
      assert.ok(files[0]?.service.some((s) => s.name === "TokenExchangeService"));
      for (const dependency of files[0]?.dependency ?? []) assert.ok(files.some((f) => f.name === dependency), `${dependency} sent`);
      assert.equal(missing.messageResponse.case, "errorResponse");
      assert.equal(missing.messageResponse.case === "errorResponse" && missing.messageResponse.value.errorCode, 5);
    } finally {
      sessionManager.abort();
    }
  });
});
