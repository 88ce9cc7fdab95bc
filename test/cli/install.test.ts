/**
 * `tessera` as an installed command: the package packed as npm would publish it, installed with
 * `npm install -g` into a prefix of its own, and run from a directory outside the repository.
 * Also: `npm run build` (what `npm start` runs first) leaves dist/ alone when nothing changed.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { bannerOf } from "../ops/support.js";

const run = promisify(execFile);
const ENTRY = "dist/src/cli/tessera.js";

describe("tessera installed with npm install -g", () => {
  let dir: string;
  let bin: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tessera-install-"));
    const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", dir], { maxBuffer: 1 << 24 });
    const tarball = join(dir, stdout.trim().split("\n").at(-1) ?? "");
    await run("npm", ["install", "--global", "--prefer-offline", "--no-audit", "--no-fund", "--prefix", join(dir, "prefix"), tarball]);
    bin = join(dir, "prefix", "bin", "tessera");
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("puts a tessera command on the prefix's bin that serves the demo realm from any directory, and stops on SIGTERM", async () => {
    const child = spawn(bin, ["serve", "--port", "0", "--log-level", "warn"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let stdout = "";
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk;
          const found = bannerOf(stdout)?.urls.main;
          if (found) resolve(found);
        });
        child.on("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const discovery = await fetch(`${url}/realms/demo/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      assert.equal(((await discovery.json()) as { issuer: string }).issuer, `${url}/realms/demo`);
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("ships only what runs: the compiled code, the demo realm and the protos, no tests or sources", async () => {
    const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { maxBuffer: 1 << 24 });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    assert.ok(files.includes(ENTRY));
    assert.ok(files.includes("examples/demo-realm.yaml"));
    assert.ok(files.some((f) => f.startsWith("proto/")));
    assert.deepEqual(
      files.filter((f) => /^(test|bench|src|scripts)\//.test(f) || f.endsWith(".ts")),
      [],
    );
    assert.match(await readFile(ENTRY, "utf8"), /^#!\/usr\/bin\/env node\n/);
  });
});

describe("npm run build", () => {
  it("writes nothing when no source changed (npm start does not recompile)", async () => {
    await run("npm", ["run", "--silent", "build"]);
    const before = (await stat(ENTRY)).mtimeMs;
    await run("npm", ["run", "--silent", "build"]);
    assert.equal((await stat(ENTRY)).mtimeMs, before);
  });
});
