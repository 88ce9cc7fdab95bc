/**
 * examples/python: a grpcio client with stubs generated from proto/ by grpcio-tools, against a running Tessera with
 * the demo realm: client credentials, an exchange, and the OAuthError detail of a refused call. The packages of
 * examples/python/requirements.txt come from PyPI into a venv at ~/.cache/tessera/python-venv when it lacks them.
 * Skipped without python3.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseRealmFile } from "../../src/realm-file/index.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";

const run = promisify(execFile);
const VENV = join(homedir(), ".cache", "tessera", "python-venv");
const PYTHON = join(VENV, "bin", "python");

const hasPython = await run("python3", ["--version"]).then(() => true, () => false);

describe("examples/python against a running Tessera", { skip: hasPython ? false : "python3 is not installed" }, () => {
  let harness: TesseraHarness;

  before(async () => {
    const ready = await run(PYTHON, ["-c", "import grpc, grpc_status, grpc_tools"]).then(() => true, () => false);
    if (!ready) {
      await run("python3", ["-m", "venv", VENV]);
      await run(PYTHON, ["-m", "pip", "install", "--quiet", "-r", "examples/python/requirements.txt"], { timeout: 300_000 });
    }
    await mkdir("examples/python/gen", { recursive: true });
    await run(PYTHON, [
      "-m", "grpc_tools.protoc", "-Iproto", "--python_out=examples/python/gen", "--grpc_python_out=examples/python/gen",
      "proto/tessera/exchange/v1/token_exchange_service.proto",
    ]);
    harness = await startTessera();
    await harness.repository.importRealm(await parseRealmFile("examples/demo-realm.yaml"));
  });

  after(async () => {
    await harness?.stop();
  });

  it("does client credentials and an exchange, and reads invalid_client from the OAuthError detail", async () => {
    const { stdout } = await run(PYTHON, ["examples/python/client.py"], { env: { ...process.env, TESSERA_GRPC: `127.0.0.1:${harness.port}` }, timeout: 60_000 });
    const printed = JSON.parse(stdout.trim()) as Record<string, unknown>;
    assert.equal(printed.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
    assert.equal(printed.scope, "orders.read");
    assert.ok(Number(printed.expires_in) > 290 && Number(printed.expires_in) <= 300, `expires_in ${String(printed.expires_in)}`);
    assert.deepEqual(printed.refusal, { code: "UNAUTHENTICATED", error: "invalid_client", error_description: "client authentication failed" });
  });
});
