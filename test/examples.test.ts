import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { bootstrapAdmin } from "../src/admin/bootstrap.js";
import { DEMO_REALM_FILE } from "../src/server/serve.js";
import { parseRealmDocument, parseRealmFile } from "../src/realm-file/index.js";
import { brokenReason, docPages, examplesOf, relativeLinksOf, type DocExample } from "./support/doc-pages.js";
import { postForm, verifyWithJwks } from "./support/oauth-client.js";
import { freePort } from "./support/ports.js";
import { startTessera, type TesseraHarness } from "./support/tessera-harness.js";

const run = promisify(execFile);

/** Where the pages' commands send their requests; the tests put their own Tessera's URL in its place. */
const PAGES_URL = "http://127.0.0.1:8080";

/** The examples of every page marked `<!-- example: NAME -->`, by name. */
async function examplesNamed(name: string): Promise<DocExample[]> {
  const all = await Promise.all((await docPages()).map((page) => examplesOf(page)));
  return all.flat().filter((example) => example.name === name);
}

/** A new temporary directory that links the repository's files a reader's commands use (their working directory). */
async function repositoryLikeDirectory(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  for (const name of ["examples", "node_modules", "package.json", "proto"]) await symlink(resolve(name), join(dir, name));
  return dir;
}

/**
 * The JSON objects a command printed, in order: one per line (curl, `node -pe`) or pretty-printed
 * one after another (buf curl). Text outside objects is skipped.
 */
function printedObjects(stdout: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < stdout.length; i++) {
    const char = stdout[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"' && depth > 0) inString = true;
    else if (char === "{" && depth++ === 0) start = i;
    else if (char === "}" && depth > 0 && --depth === 0) objects.push(JSON.parse(stdout.slice(start, i + 1)) as Record<string, unknown>);
  }
  return objects;
}

/**
 * Asserts that `printed` has every field of the answer a page shows, with its value unless the page
 * elides it ("..."); a number such as `expires_in` may be smaller by a few seconds, not larger (an
 * exchanged token ends with its subject token, which the page's first command got a moment earlier).
 */
function assertAnswerLike(printed: Record<string, unknown>, shown: string, where: string): void {
  const expected = JSON.parse(shown) as Record<string, unknown>;
  for (const [key, value] of Object.entries(expected)) {
    assert.ok(key in printed, `${where}: the answer has no ${key}: ${Object.keys(printed).join(", ")}`);
    const actual = printed[key];
    if (typeof value === "number") assert.ok(typeof actual === "number" && actual <= value && actual > value - 10, `${where}: ${key} ${String(actual)}, about ${value}`);
    else if (!(typeof value === "string" && (value.includes("...") || value.includes("…")))) assert.deepEqual(actual, value, `${where}: ${key}`);
  }
}

describe("examples/ run as written against the demo realm", () => {
  let tessera: TesseraHarness;
  before(async () => {
    tessera = await startTessera();
    await tessera.repository.importRealm(await parseRealmFile(DEMO_REALM_FILE));
  });
  after(() => tessera.stop());

  for (const example of ["examples/grpc-js-client.ts", "examples/openid-client.ts", "examples/tessera-client.ts"]) {
    it(`${example} then an access token for orders-api`, async () => {
      const { stdout } = await run(process.execPath, ["--import", "tsx", example], { env: { ...process.env, TESSERA_URL: tessera.baseUrl } });
      const printed = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
      assert.equal(printed.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
      assert.equal(printed.scope, "orders.read");
      assert.ok(Number(printed.expires_in) > 0);
      // @tessera/client's example exchanges twice: the second answer comes from its cache.
      if ("calls_to_tessera" in printed) assert.equal(printed.calls_to_tessera, 1);
    });
  }
});

// Blocks marked `<!-- example: demo -->` run with bash against the demo realm of `npm start`, as a
// reader runs them from the repository root (here a directory that links its files, so what a block
// writes stays apart), with `tessera` on the PATH, TOKEN set as the README's worked example sets it,
// and the bootstrap admin client's secret in TESSERA_BOOTSTRAP_ADMIN_SECRET and
// TESSERA_ADMIN_CLIENT_SECRET. A line `export NAME=...` is the reader's to fill: it is left out.
// Each block must exit 0 and print no OAuth error; a `json` block after it is the answer its last
// printed object must match.
describe("the docs' demo examples run as written (README.md, docs/*.md)", async () => {
  const examples = await examplesNamed("demo");
  const adminSecret = "docs-example-admin-secret";
  let tessera: TesseraHarness;
  let token: string;
  let dir: string;
  before(async () => {
    tessera = await startTessera();
    await tessera.repository.importRealm(await parseRealmFile(DEMO_REALM_FILE));
    await bootstrapAdmin(tessera.repository, { secret: adminSecret, generateSecret: false });
    const answer = await postForm(tessera.tokenUrl("demo"), { grant_type: "client_credentials", scope: "orders.read inventory.read" }, { basic: ["gateway", "gateway-secret"] });
    token = answer.body.access_token as string;
    dir = await repositoryLikeDirectory("tessera-docs-examples-");
    await mkdir(join(dir, "bin"));
    await writeFile(join(dir, "bin", "tessera"), `#!/bin/sh\nexec "${process.execPath}" --import tsx "${resolve("src/cli/tessera.ts")}" "$@"\n`, { mode: 0o755 });
  });
  after(async () => {
    await tessera.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("there are examples to run on the README and on the moved pages", () => {
    assert.ok(examples.some((example) => example.page === "README.md"));
    assert.ok(examples.some((example) => example.page.startsWith("docs/")));
  });

  examples.forEach((example, index) => {
    const where = `${example.page}, demo example ${index + 1} (${example.script.split("\n")[0]})`;
    it(where, async () => {
      const script = example.script
        .split("\n")
        .filter((line) => !/^export [A-Z_]+=\.\.\.(\s|$)/.test(line))
        .join("\n")
        .replaceAll(PAGES_URL, tessera.baseUrl);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
        cwd: dir,
        env: {
          ...process.env,
          PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`,
          TOKEN: token,
          TESSERA_URL: tessera.baseUrl,
          TESSERA_BOOTSTRAP_ADMIN_SECRET: adminSecret,
          TESSERA_ADMIN_CLIENT_SECRET: adminSecret,
        },
        timeout: 120_000,
      });
      assert.notEqual(stdout.trim(), "", `${where} printed nothing`);
      const printed = printedObjects(stdout);
      for (const object of printed) assert.equal(object.error, undefined, `${where}: ${JSON.stringify(object)}`);
      if (example.answer) assertAnswerLike(printed.at(-1) ?? {}, example.answer, where);
    });
  });
});

// docs/identity-providers.md's walkthrough, step by step in one shell as a reader types it: its
// issuer command, its exchange, its restart of the issuer for another branch, the same exchange
// again. Tessera (step 2, `npm start -- --import examples/ci-federation-realm.yaml`) is this test's
// own, with that realm file imported; the issuer listens on a free port instead of 9000.
describe("docs/identity-providers.md: the federation walkthrough followed step by step", () => {
  it("the job token of acme/api on main then a realm token for the deployer; the restarted issuer's token of another branch then refused by the condition's name", async () => {
    const [issuer, exchange, restart] = await Promise.all(["issuer", "exchange", "restart"].map(async (step) => (await examplesNamed(`ci-federation ${step}`))[0]?.script));
    assert.ok(issuer && exchange && restart, "the walkthrough has its issuer, exchange and restart steps");
    const port = await freePort();
    const tessera = await startTessera();
    const dir = await repositoryLikeDirectory("tessera-walkthrough-");
    try {
      const realm = (await readFile("examples/ci-federation-realm.yaml", "utf8")).replaceAll("127.0.0.1:9000", `127.0.0.1:${port}`);
      await tessera.repository.importRealm(await parseRealmDocument(realm, "ci-federation-realm.yaml"));
      const curl = exchange.replaceAll(PAGES_URL, tessera.baseUrl);
      const serving = (count: number) => `for i in $(seq 300); do [ "$(grep -c 'serving its keys' issuer.log)" -ge ${count} ] && break; sleep 0.1; done`;
      const script = [
        "set -m -eu",
        "exec 2>>issuer.log",
        'trap \'for job in $(jobs -p); do kill -- "-$job" 2>/dev/null || true; done\' EXIT',
        "trap 'exit 1' TERM",
        issuer,
        serving(1),
        `${curl} > first.json`,
        restart,
        serving(2),
        `${curl} > second.json`,
      ].join("\n");
      await writeFile(join(dir, "walkthrough.sh"), script);
      const shell = spawn("bash", ["walkthrough.sh"], {
        cwd: dir,
        env: { ...process.env, LOCAL_ISSUER_PORT: String(port), LOCAL_ISSUER_KEY: join(dir, "issuer.jwk.json") },
        stdio: "ignore",
        timeout: 90_000,
      });
      const code = await new Promise<number | null>((done) => shell.on("exit", done));
      const log = await readFile(join(dir, "issuer.log"), "utf8").catch(() => "");
      assert.equal(code, 0, `the walkthrough's shell failed:\n${log}`);

      const first = JSON.parse(await readFile(join(dir, "first.json"), "utf8")) as Record<string, unknown>;
      assert.equal(first.scope, "deploy", JSON.stringify(first));
      const claims = await verifyWithJwks(first.access_token as string, tessera.issuer("ci"));
      assert.equal(claims.aud, "deployer");
      assert.equal((await tessera.repository.getUser("ci", claims.sub as string))?.username, "acme/api");
      const second = JSON.parse(await readFile(join(dir, "second.json"), "utf8")) as Record<string, unknown>;
      assert.deepEqual(second, { error: "invalid_request", error_description: "subject_token does not meet condition acme-api-main" });
    } finally {
      await tessera.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("links between the pages resolve", () => {
  it("every relative Markdown link of README.md, SECURITY.md, docs/*.md and deploy/README.md points at an existing file, and its #anchor at a heading of it", async () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of await docPages()) {
      for (const link of await relativeLinksOf(page)) {
        const reason = await brokenReason(link);
        checked++;
        if (reason) broken.push(`${page}: (${link.href}) ${reason}`);
      }
    }
    assert.ok(checked > 10, `only ${checked} links found`);
    assert.deepEqual(broken, []);
  });

  it("a link to a missing page or heading is reported", async () => {
    assert.equal(await brokenReason({ page: "docs/exchange.md", href: "nowhere.md" }), "docs/nowhere.md does not exist");
    assert.equal(await brokenReason({ page: "README.md", href: "docs/exchange.md#no-such-heading" }), "docs/exchange.md has no heading #no-such-heading");
    assert.equal(await brokenReason({ page: "docs/exchange.md", href: "../README.md#a-worked-example-curl" }), undefined);
  });
});
