/**
 * The built `tessera` command (dist/) as a child process against a real server: a realm set up with the CLI
 * alone then a token exchange with it, typed JSON, -h on every command, --version, errors printed once,
 * `token decode` on a real token, and `import-keycloak` of a Keycloak export.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { exportJWK, generateKeyPair } from "jose";
import { ADMIN_COMMANDS, runAdmin } from "../../src/cli/admin-cli.js";
import { EXIT } from "../../src/cli/output.js";
import { postForm, verifyWithJwks } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const BIN = "dist/src/cli/tessera.js";
const KEYCLOAK_EXPORT = new URL("../../../shared/fixtures/keycloak/bench-realm-export.json", import.meta.url).pathname;
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("the tessera command", () => {
  let tessera: TesseraHarness;
  let env: Record<string, string>;
  let dir: string;

  /** Runs the built `tessera ARGS` as a user would, standard input from `input`. */
  const cli = (args: string[], input = ""): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d));
      child.stderr.on("data", (d: Buffer) => (stderr += d));
      child.on("error", reject);
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  /** Runs an admin command that must succeed and returns its JSON. */
  const json = async <T = Record<string, unknown>>(args: string[]): Promise<T> => {
    const run = await cli(["admin", ...args, "--output", "json"]);
    assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  };

  before(async () => {
    await promisify(execFile)("npx", ["tsc", "-b", "tsconfig.build.json"]);
    tessera = await startTessera();
    const caller = await tessera.adminCaller();
    env = { PATH: process.env.PATH ?? "", TESSERA_URL: tessera.baseUrl, TESSERA_ADMIN_CLIENT_ID: caller.clientId, TESSERA_ADMIN_CLIENT_SECRET: caller.secret };
    dir = await mkdtemp(join(tmpdir(), "tessera-cli-"));
  });
  after(() => tessera.stop());

  it("sets up a realm (realm, scope, clients, user, provider) with the CLI alone, then a token exchange works", async () => {
    const realm = await json(["realms", "create", "shop", "--access-token-lifespan", "120"]);
    assert.equal(realm.accessTokenLifespan, 120, "an int64 is a JSON number");
    assert.equal(realm.enabled, true, "a boolean is a JSON boolean");
    const ordersApi = await json<{ secret: string }>(["clients", "create", "shop", "orders-api", "--token-exchange", "true"]);
    await json(["scopes", "create", "shop", "orders.read", "--audience", "orders-api", "--description", "read orders"]);
    const gateway = await json<{ secret: string }>(["clients", "create", "shop", "gateway", "--service-account", "--optional-scope", "orders.read", "--token-exchange", "true"]);
    const alice = await json<{ id: string; attributes: Record<string, { values: string[] }> }>(["users", "create", "shop", "alice", "--email", "alice@example.com", "--attribute", "department=sales"]);
    assert.deepEqual(alice.attributes, { department: { values: ["sales"] } });
    const { publicKey } = await generateKeyPair("ES256");
    const jwks = join(dir, "partner-jwks.json");
    await writeFile(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "partner-1", alg: "ES256" }] }));
    const provider = await json(["providers", "create", "shop", "partner", "--issuer", "https://partner.example", "--jwks-file", jwks, "--audience", "shop", "--max-token-age", "600"]);
    assert.equal(provider.maxTokenAge, 600);
    const providers = await cli(["admin", "providers", "list", "shop"]);
    assert.match(providers.stdout, /^ALIAS +ENABLED +ISSUER +KEYSOK +KEYERROR +KEYIDS\npartner +true +https:\/\/partner\.example/);

    const subject = await postForm(tessera.tokenUrl("shop"), { grant_type: "client_credentials", scope: "orders.read" }, { basic: ["gateway", gateway.secret] });
    assert.equal(subject.status, 200, JSON.stringify(subject.body));
    const exchanged = await postForm(tessera.tokenUrl("shop"), { grant_type: TOKEN_EXCHANGE, subject_token: subject.body.access_token as string, subject_token_type: ACCESS_TOKEN }, { basic: ["orders-api", ordersApi.secret] });
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    const claims = await verifyWithJwks(exchanged.body.access_token as string, tessera.issuer("shop"));
    assert.equal(claims.azp, "orders-api");
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 120, "the realm's lifespan set by the CLI");

    const users = await cli(["admin", "users", "list", "shop"]);
    assert.match(users.stdout, new RegExp(`^${alice.id} +alice +alice@example\\.com +true$`, "m"));
    const events = await json<{ kind: string; clientId: string; result: string }[]>(["events", "list", "shop", "--client", "orders-api", "--since", "5m"]);
    assert.ok(events.length > 0 && events.every((e) => e.clientId === "orders-api"), JSON.stringify(events));
  });

  it("updates change only the flags given; users get, links, delete by username", async () => {
    await json(["realms", "create", "crud"]);
    await json(["users", "create", "crud", "bob", "--email", "bob@example.com"]);
    const updated = await json(["users", "update", "crud", "bob", "--enabled", "false"]);
    assert.equal(updated.enabled, false);
    assert.equal(updated.email, "bob@example.com", "kept");
    assert.deepEqual(await json(["users", "links", "crud", "bob"]), []);
    const realm = await json(["realms", "update", "crud", "--max-delegation-depth", "3"]);
    assert.equal(realm.maxDelegationDepth, 3);
    assert.equal(realm.accessTokenLifespan, 300, "kept");
    const nothing = await cli(["admin", "realms", "update", "crud"]);
    assert.equal(nothing.code, EXIT.usage);
    assert.match(nothing.stderr, /nothing to change/);
    assert.deepEqual(await json(["users", "delete", "crud", "bob"]), { id: updated.id, username: "bob", deleted: true });
    const gone = await cli(["admin", "users", "get", "crud", "bob"]);
    assert.equal(gone.code, EXIT.notFound);
  });

  it("a failed call prints one line: the gRPC code and message, and a non-zero exit", async () => {
    const run = await cli(["admin", "clients", "get", "shop", "no-such-client"]);
    assert.equal(run.code, EXIT.notFound);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /^tessera admin: not_found: [^\n]*no-such-client[^\n]*\n$/);
    const unknown = await cli(["admin", "users", "list", "shop", "--colour"]);
    assert.equal(unknown.code, EXIT.usage);
    assert.match(unknown.stderr, /^tessera admin: Unknown option '--colour' \(see tessera admin users list --help\)\n$/);
    for (const args of [["frobnicate"], ["token", "encode", "x"]]) {
      const bad = await cli(args);
      assert.equal(bad.code, 2, args.join(" "));
      assert.equal(bad.stderr.split("\n").length, 2, `one line: ${bad.stderr}`);
    }
  });

  it("-h and --help on every command and subcommand print its usage with its flags; --version the package's", async () => {
    const { version } = JSON.parse(await readFile("package.json", "utf8")) as { version: string };
    assert.equal((await cli(["--version"])).stdout, `tessera ${version}\n`);
    for (const args of [["-h"], ["serve", "-h"], ["admin", "-h"], ["token", "decode", "-h"], ["import-keycloak", "--help"]]) {
      const run = await cli(args);
      assert.equal(run.code, 0, args.join(" "));
      assert.match(run.stdout, /^Usage: tessera/, args.join(" "));
    }
    // Every admin command's help, in process: the same code as the child processes above run, without
    // forty Node start-ups.
    for (const command of ADMIN_COMMANDS) {
      const run = { code: 0, stdout: "", stderr: "" };
      run.code = await runAdmin([...command.words.split(" "), "-h"], { stdout: (text) => (run.stdout += text), stderr: (text) => (run.stderr += text), env: {} });
      assert.equal(run.code, 0, command.words);
      assert.ok(run.stdout.startsWith(`Usage: tessera admin ${command.words} ${command.arguments.join(" ")}`), run.stdout);
      for (const flag of Object.keys(command.flags ?? {})) assert.match(run.stdout, new RegExp(`^  --${flag}\\b`, "m"), `${command.words} --${flag}`);
      assert.match(run.stdout, /^  --output table\|json/m);
    }
  });

  it("admin explain exchange: every rule and the outcome, for a client named by id, the token read from standard input", async () => {
    await tessera.repository.importRealm((await buildTestRealm("explain-cli")).bundle);
    const own = await postForm(tessera.tokenUrl("explain-cli"), { grant_type: "client_credentials", scope: "orders.read" }, { basic: ["gateway", SECRETS.gateway] });
    const explain = (...flags: string[]) => cli(["admin", "explain", "exchange", "explain-cli", "--client", "gateway", "--subject-token", "-", ...flags], own.body.access_token as string);
    const granted = await explain("--audience", "orders-api", "--scope", "orders.read", "--output", "json");
    assert.equal(granted.code, 0, granted.stderr);
    const trace = JSON.parse(granted.stdout) as { rules: { name: string; passed: boolean }[]; outcome: { issued: boolean; scope: string; claimsJson: string } };
    assert.ok(trace.rules.length > 3 && trace.rules.every((rule) => rule.passed), granted.stdout);
    assert.equal(trace.outcome.issued, true);
    assert.equal(JSON.parse(trace.outcome.claimsJson).aud, "orders-api");
    assert.ok(!granted.stdout.includes(own.body.access_token as string), "the trace never holds the token");
    const refused = await explain("--audience", "no-such-client");
    assert.equal(refused.code, 0, refused.stderr);
    assert.match(refused.stdout, /^error: +invalid_target$/m);
    assert.match(refused.stdout, /false/);
    assert.equal((await cli(["admin", "explain", "exchange", "explain-cli"])).code, EXIT.usage, "--client is required");
  });

  it("token decode prints header, claims and expiry, and says whether the realm's JWKS verifies it", async () => {
    await json(["realms", "create", "decode"]);
    const client = await json<{ secret: string }>(["clients", "create", "decode", "job", "--service-account"]);
    const answer = await postForm(tessera.tokenUrl("decode"), { grant_type: "client_credentials" }, { basic: ["job", client.secret] });
    const token = answer.body.access_token as string;
    const good = await cli(["token", "decode", token]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /"typ": "at\+jwt"/);
    assert.match(good.stdout, /"azp": "job"/);
    assert.match(good.stdout, /^expiry: expires in (300|299) s \(/m);
    assert.match(good.stdout, new RegExp(`^signature: verified with ${tessera.issuer("decode")}/protocol/openid-connect/certs$`, "m"));

    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    const tampered = [header, Buffer.from(JSON.stringify({ ...claims, azp: "admin" })).toString("base64url"), signature].join(".");
    const bad = await cli(["token", "decode", "-", "--output", "json"], `${tampered}\n`);
    assert.equal(bad.code, 1);
    const report = JSON.parse(bad.stdout) as { claims: { azp: string }; expired: boolean; verification: { verified: boolean; reason: string } };
    assert.equal(report.claims.azp, "admin");
    assert.equal(report.expired, false);
    assert.deepEqual([report.verification.verified, report.verification.reason], [false, "signature does not match the realm's key"]);

    const otherRealm = await cli(["token", "decode", token, "--realm-url", tessera.issuer("shop")]);
    assert.equal(otherRealm.code, 1);
    assert.match(otherRealm.stdout, /^signature: NOT verified: issued by .*\/realms\/decode, not .*\/realms\/shop$/m);
    const notJwt = await cli(["token", "decode", "not-a-token"]);
    assert.equal(notJwt.code, 2);
    assert.match(notJwt.stderr, /^tessera token: not a JWT/);
  });

  it("import-keycloak --dry-run prints the report and the realm file and imports nothing; without it, imports", async () => {
    const dry = await cli(["import-keycloak", KEYCLOAK_EXPORT, "--dry-run", "--realm", "kc"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^dry run: would apply \d+ change\(s\) to realm kc \(created\)$/m);
    assert.match(dry.stdout, /^create +client +gateway/m);
    assert.match(dry.stdout, /^ELEMENT +OUTCOME +REASON$/m);
    assert.match(dry.stdout, /^client account +left_out +/m);
    assert.match(dry.stdout, /^realm file that would be imported \(client secrets masked\):\n(#.*\n)?realm: kc$/m);
    assert.match(dry.stdout, /^    secret: "\*\*\*\*\*"$/m);
    assert.equal((await cli(["admin", "realms", "get", "kc"])).code, EXIT.notFound, "nothing imported");

    const real = await json<{ realm: string; dryRun: boolean; realmCreated: boolean; changes: { kind: string; key: string }[]; notes: { element: string; outcome: string; reason: string }[] }>(["realm", "import-keycloak", KEYCLOAK_EXPORT, "--realm", "kc"]);
    assert.deepEqual([real.realm, real.dryRun, real.realmCreated], ["kc", false, true]);
    assert.ok(real.changes.some((c) => c.kind === "client" && c.key === "orders-api"));
    assert.ok(real.notes.every((n) => n.element && ["changed", "left_out"].includes(n.outcome) && n.reason));
    assert.equal(((await json(["clients", "get", "kc", "gateway"])) as { clientId: string }).clientId, "gateway");
    const again = await cli(["import-keycloak", KEYCLOAK_EXPORT, "--realm", "kc", "--output", "json"]);
    assert.deepEqual((JSON.parse(again.stdout) as { changes: unknown[] }).changes, [], "a re-import changes nothing");
  });
});
