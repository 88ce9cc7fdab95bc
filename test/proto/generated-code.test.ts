import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const buf = join("node_modules", ".bin", "buf");

async function filesUnder(dir: string): Promise<string[]> {
  return ((await readdir(dir, { recursive: true, withFileTypes: true })) as { isFile(): boolean; parentPath?: string; path?: string; name: string }[])
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path ?? "", entry.name).slice(dir.length + 1))
    .sort();
}

describe("protobuf contracts", () => {
  it("buf lint then no findings", async () => {
    await run(buf, ["lint"]);
  });

  /** Generates with `template` into a scratch copy of its `out` and compares the files with `out` in the repository. */
  async function assertFresh(template: string, out: string): Promise<void> {
    const scratch = await mkdtemp(join(tmpdir(), "tessera-gen-"));
    try {
      const config = (await readFile(template, "utf8")).replace(new RegExp(`out: ${out}$`, "gm"), `out: ${join(scratch, "gen")}`);
      await writeFile(join(scratch, "buf.gen.yaml"), config);
      await run(buf, ["generate", "--template", join(scratch, "buf.gen.yaml")], { env: { ...process.env, PATH: `${join(process.cwd(), "node_modules", ".bin")}:${process.env.PATH}` } });
      const fresh = await filesUnder(join(scratch, "gen"));
      assert.deepEqual(await filesUnder(out), fresh, `${out}/ has missing or extra files`);
      for (const file of fresh) {
        assert.equal(await readFile(join(out, file), "utf8"), await readFile(join(scratch, "gen", file), "utf8"), `${out}/${file} is stale`);
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  it("gen/ then identical to a fresh buf generate (run `npm run generate` after editing proto/)", async () => {
    await assertFresh("buf.gen.yaml", "gen");
  });

  it("packages/client/gen/ then identical to a fresh buf generate of its own template (`npm run generate` writes both)", async () => {
    await assertFresh(join("packages", "client", "buf.gen.yaml"), "packages/client/gen");
  });
});
