/**
 * `tessera admin`: client-credentials login, the commands, --output json|table, readable errors
 * and exit codes, against a real server (in-process commands, and the real bin for the wiring).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { runAdmin } from "../../src/cli/admin-cli.js";
import { EXIT } from "../../src/cli/output.js";
import { freePort } from "../support/ports.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm } from "../support/test-realm.js";
import type { AdminCaller } from "../support/admin-client.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("tessera admin", () => {
  let tessera: TesseraHarness;
  let caller: AdminCaller;
  const realm = "cli-realm";
  let env: NodeJS.ProcessEnv;

  /** Runs `tessera admin ARGS` in-process. */
  const admin = async (args: string[], overrides: NodeJS.ProcessEnv = {}): Promise<Run> => {
    let stdout = "";
    let stderr = "";
    const code = await runAdmin(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { ...env, ...overrides } });
    return { code, stdout, stderr };
  };

  before(async () => {
    tessera = await startTessera();
    await tessera.repository.importRealm((await buildTestRealm(realm)).bundle);
    caller = await tessera.adminCaller();
    env = { TESSERA_URL: tessera.baseUrl, TESSERA_ADMIN_CLIENT_ID: caller.clientId, TESSERA_ADMIN_CLIENT_SECRET: caller.secret };
  });
  after(() => tessera.stop());

  it("realms list prints a table, or JSON with --output json", async () => {
    const table = await admin(["realms", "list"]);
    assert.equal(table.code, EXIT.ok, table.stderr);
    assert.match(table.stdout, /^NAME +ENABLED +SIGNINGALGORITHM/);
    assert.match(table.stdout, new RegExp(`^${realm} +true +ES256 +300$`, "m"));
    const json = await admin(["realms", "list", "--output", "json", "--prefix", "cli-"]);
    const [row] = JSON.parse(json.stdout) as Record<string, unknown>[];
    assert.deepEqual({ name: row.name, enabled: row.enabled, signingAlgorithm: row.signingAlgorithm, accessTokenLifespan: row.accessTokenLifespan }, { name: realm, enabled: true, signingAlgorithm: "ES256", accessTokenLifespan: 300 });
  });

  it("clients create prints the generated secret once, and the client can log in with it", async () => {
    const run = await admin(["clients", "create", realm, "reporting", "--service-account", "--default-scope", "profile", "--output", "json"]);
    assert.equal(run.code, EXIT.ok, run.stderr);
    const row = JSON.parse(run.stdout) as { clientId: string; secret: string; serviceAccount: boolean };
    assert.equal(row.serviceAccount, true);
    assert.equal(row.clientId, "reporting");
    const token = await postForm(tessera.tokenUrl(realm), { grant_type: "client_credentials" }, { basic: ["reporting", row.secret] });
    assert.equal(token.status, 200);
    const list = await admin(["clients", "list", realm, "--prefix", "report"]);
    assert.doesNotMatch(list.stdout, new RegExp(row.secret), "never read back");
    const again = await admin(["clients", "create", realm, "reporting"]);
    assert.equal(again.code, EXIT.conflict);
    assert.match(again.stderr, /^tessera admin: already_exists: /);
  });

  it("keys rotate lists the new active key and the old one passive", async () => {
    await postForm(tessera.tokenUrl(realm), { grant_type: "client_credentials" }, { basic: ["gateway", "gateway-secret"] });
    const run = await admin(["keys", "rotate", realm, "--output", "json"]);
    assert.equal(run.code, EXIT.ok, run.stderr);
    const keys = JSON.parse(run.stdout) as { state: string; retireAt: string }[];
    assert.deepEqual(keys.map((k) => k.state), ["active", "passive"]);
    assert.ok(keys[1].retireAt);
    assert.match((await admin(["keys", "list", realm])).stdout, /^KID +ALGORITHM +STATE/);
  });

  it("realm export > file, edit, realm import file --dry-run reports, realm import applies", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-admin-"));
    const file = join(dir, "realm.yaml");
    // The real bin, with its standard output redirected to the file as a shell would.
    const { openSync, closeSync } = await import("node:fs");
    const fd = openSync(file, "w");
    const exit = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/tessera.ts", "admin", "realm", "export", realm], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", fd, "inherit"] });
      child.on("exit", resolve);
    });
    closeSync(fd);
    assert.equal(exit, 0);
    const exported = parse(await readFile(file, "utf8")) as { realm: string; accessTokenLifespan: number };
    assert.equal(exported.realm, realm);
    exported.accessTokenLifespan = 240;
    await writeFile(file, stringify(exported));
    const dry = await admin(["realm", "import", file, "--dry-run"]);
    assert.equal(dry.code, EXIT.ok, dry.stderr);
    assert.match(dry.stdout, /^dry run: would apply 1 change\(s\) to realm cli-realm/);
    assert.match(dry.stdout, /update +realm +cli-realm +accessTokenLifespan/);
    const applied = await admin(["realm", "import", file, "--output", "json"]);
    assert.deepEqual(JSON.parse(applied.stdout), { realm, dryRun: false, realmCreated: false, changes: [{ action: "update", kind: "realm", key: realm, fields: ["accessTokenLifespan"] }] });
    assert.equal((await tessera.repository.getRealm(realm))?.accessTokenLifespan, 240);
  });

  it("an invalid file is exit 6 with one line per field violation; a missing file exit 2", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-admin-"));
    const file = join(dir, "bad.yaml");
    await writeFile(file, `realm: ${realm}\naccessTokenLifespan: -1\nbogus: true\n`);
    const run = await admin(["realm", "import", file]);
    assert.equal(run.code, EXIT.invalid);
    assert.match(run.stderr, /^tessera admin: invalid_argument: realm_file: /);
    assert.equal(run.stderr.match(/bogus: unknown key/g)?.length, 1, `the violation once: ${run.stderr}`);
    assert.equal((await admin(["realm", "import", join(dir, "missing.yaml")])).code, EXIT.usage);
  });

  it("exit codes a script can trust: not found 4, bad secret 3, scope too narrow 3, unreachable 7, usage 2", async () => {
    const missing = await admin(["keys", "list", "no-such-realm"]);
    assert.equal(missing.code, EXIT.notFound);
    assert.match(missing.stderr, /not_found: realm no-such-realm not found/);
    const wrong = await admin(["realms", "list"], { TESSERA_ADMIN_CLIENT_SECRET: "wrong-secret" });
    assert.equal(wrong.code, EXIT.denied);
    assert.match(wrong.stderr, /login failed: invalid_client/);
    const narrow = await tessera.adminCaller([`admin.read:${realm}`]);
    const denied = await admin(["realms", "delete", realm], { TESSERA_ADMIN_CLIENT_ID: narrow.clientId, TESSERA_ADMIN_CLIENT_SECRET: narrow.secret });
    assert.equal(denied.code, EXIT.denied);
    assert.match(denied.stderr, /permission_denied/);
    const unreachable = await admin(["realms", "list"], { TESSERA_URL: `http://127.0.0.1:${await freePort()}` });
    assert.equal(unreachable.code, EXIT.unavailable);
    assert.match(unreachable.stderr, /unavailable/);
    for (const args of [["nope", "list"], ["realms", "list", "extra"], ["realms", "list", "--output", "xml"], ["realms", "list", "--bogus"]]) {
      const run = await admin(args);
      assert.equal(run.code, EXIT.usage, args.join(" "));
      assert.match(run.stderr, /see tessera admin (realms list )?--help\)\n$/);
      assert.equal(run.stderr.split("\n").length, 2, "one line");
    }
    assert.equal((await admin(["realms", "list"], { TESSERA_ADMIN_CLIENT_SECRET: "" })).code, EXIT.usage);
    const help = await admin(["--help"]);
    assert.equal(help.code, EXIT.ok);
    assert.match(help.stdout, /Exit codes:/);
  });
});
