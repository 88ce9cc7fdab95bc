import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
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

  it("gen/ then identical to a fresh buf generate (run `npm run generate` after editing proto/)", async () => {
    const scratch = await mkdtemp(join(tmpdir(), "tessera-gen-"));
    try {
      const config = (await readFile("buf.gen.yaml", "utf8")).replace(/out: gen/g, `out: ${join(scratch, "gen")}`);
      await writeFile(join(scratch, "buf.gen.yaml"), config);
      await cp("proto", join(scratch, "proto"), { recursive: true });
      await run(buf, ["generate", "--template", join(scratch, "buf.gen.yaml")], { env: { ...process.env, PATH: `${join(process.cwd(), "node_modules", ".bin")}:${process.env.PATH}` } });
      const fresh = await filesUnder(join(scratch, "gen"));
      assert.deepEqual(await filesUnder("gen"), fresh, "gen/ has missing or extra files");
      for (const file of fresh) {
        assert.equal(await readFile(join("gen", file), "utf8"), await readFile(join(scratch, "gen", file), "utf8"), `gen/${file} is stale`);
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
