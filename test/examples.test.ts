import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { DEMO_REALM_FILE } from "../src/server/serve.js";
import { parseRealmDocument, parseRealmFile } from "../src/realm-file/index.js";
import { postForm, verifyWithJwks } from "./support/oauth-client.js";
import { freePort } from "./support/ports.js";
import { startTessera, type TesseraHarness } from "./support/tessera-harness.js";

const run = promisify(execFile);

describe("examples/ run as written against the demo realm", () => {
  let tessera: TesseraHarness;
  before(async () => {
    tessera = await startTessera();
    await tessera.repository.importRealm(await parseRealmFile(DEMO_REALM_FILE));
  });
  after(() => tessera.stop());

  for (const example of ["examples/grpc-js-client.ts", "examples/openid-client.ts"]) {
    it(`${example} then an access token for orders-api`, async () => {
      const { stdout } = await run(process.execPath, ["--import", "tsx", example], { env: { ...process.env, TESSERA_URL: tessera.baseUrl } });
      const printed = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
      assert.equal(printed.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
      assert.equal(printed.scope, "orders.read");
      assert.ok(Number(printed.expires_in) > 0);
    });
  }
});

describe("examples/ci-federation-realm.yaml with examples/local-ci-issuer.ts", () => {
  /** Starts the local CI issuer on a free port and reads the job token it prints. */
  async function startIssuer(port: number, env: Record<string, string> = {}): Promise<{ tokens: string[]; stop(): void }> {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/local-ci-issuer.ts"], {
      env: { ...process.env, LOCAL_ISSUER_PORT: String(port), ...env },
      stdio: ["ignore", "pipe", "ignore"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    const deadline = Date.now() + 20_000;
    const lines = (env.REF ?? "x").split(",").length;
    while (output.split("\n").length <= lines && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return { tokens: output.trim().split("\n"), stop: () => child.kill() };
  }

  it("a job token of acme/api on main then a realm token for the deployer; another branch then refused by the condition's name", async () => {
    const port = await freePort();
    const issuer = await startIssuer(port, { REF: "refs/heads/main,refs/heads/feature" });
    const tessera = await startTessera();
    try {
      const text = (await readFile("examples/ci-federation-realm.yaml", "utf8")).replaceAll("127.0.0.1:9000", `127.0.0.1:${port}`);
      await tessera.repository.importRealm(await parseRealmDocument(text, "ci-federation-realm.yaml"));
      const exchange = (token: string) =>
        postForm(
          tessera.tokenUrl("ci"),
          { grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: token, subject_token_type: "urn:ietf:params:oauth:token-type:jwt", subject_issuer: "ci" },
          { basic: ["ci-runner", "ci-runner-secret"] },
        );
      const [main, feature] = issuer.tokens;
      const answer = await exchange(main);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.scope, "deploy");
      const claims = await verifyWithJwks(answer.body.access_token as string, tessera.issuer("ci"));
      assert.equal(claims.aud, "deployer");
      assert.equal((await tessera.repository.getUser("ci", claims.sub as string))?.username, "acme/api");
      const refused = await exchange(feature);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error_description, "subject_token does not meet condition acme-api-main");
    } finally {
      issuer.stop();
      await tessera.stop();
    }
  });
});
