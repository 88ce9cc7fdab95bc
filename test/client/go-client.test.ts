/**
 * examples/go: a Go client with stubs generated from proto/ by protoc-gen-go and protoc-gen-go-grpc (installed from
 * the Go module proxy into ~/.cache/tessera/go-bin, run by buf as local plugins), against a running Tessera with
 * the demo realm: client credentials, an exchange, and the OAuthError detail of a refused call. Skipped without Go.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseRealmFile } from "../../src/realm-file/index.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";

const run = promisify(execFile);
const GO_BIN = join(homedir(), ".cache", "tessera", "go-bin");
/** The plugins, at the versions of google.golang.org/protobuf and grpc-go that examples/go/go.mod names. */
const PLUGINS = ["google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12", "google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2"];

const hasGo = await run("go", ["version"]).then(() => true, () => false);

describe("examples/go against a running Tessera", { skip: hasGo ? false : "go is not installed" }, () => {
  let harness: TesseraHarness;
  const env = { ...process.env, PATH: `${GO_BIN}:${join(process.cwd(), "node_modules", ".bin")}:${process.env.PATH}`, GOBIN: GO_BIN };

  before(async () => {
    for (const plugin of PLUGINS) {
      const binary = join(GO_BIN, plugin.slice(plugin.lastIndexOf("/") + 1, plugin.indexOf("@")));
      if (!(await access(binary).then(() => true, () => false))) await run("go", ["install", plugin], { env, timeout: 300_000 });
    }
    await run("buf", ["generate", "--template", "examples/go/buf.gen.yaml"], { env });
    harness = await startTessera();
    await harness.repository.importRealm(await parseRealmFile("examples/demo-realm.yaml"));
  });

  after(async () => {
    await harness?.stop();
  });

  it("does client credentials and an exchange, and reads invalid_client from the OAuthError detail", { timeout: 600_000 }, async () => {
    const { stdout } = await run("go", ["run", "."], { cwd: "examples/go", env: { ...env, TESSERA_GRPC: `127.0.0.1:${harness.port}` }, timeout: 600_000 });
    const printed = JSON.parse(stdout.trim()) as Record<string, unknown>;
    assert.equal(printed.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
    assert.equal(printed.scope, "orders.read");
    assert.ok(Number(printed.expires_in) > 290 && Number(printed.expires_in) <= 300, `expires_in ${String(printed.expires_in)}`);
    assert.deepEqual(printed.refusal, { code: "Unauthenticated", error: "invalid_client", error_description: "client authentication failed" });
  });
});
