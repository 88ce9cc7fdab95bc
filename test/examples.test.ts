import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { DEMO_REALM_FILE } from "../src/main.js";
import { parseRealmFile } from "../src/realm-file/index.js";
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
