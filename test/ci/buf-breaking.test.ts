/**
 * .ci/buf-breaking: the CI check that proto/ stays compatible with the previous commit unless the
 * package version changes, run in throwaway git repositories.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";

const ROOT = resolve(".");

/** A git repository holding the project's contracts, buf.yaml, package.json and the check. */
function repository(): { dir: string; commit: (message: string) => void; run: () => { status: number | null; output: string } } {
  const dir = mkdtempSync(join(tmpdir(), "tessera-buf-"));
  for (const path of ["proto", "buf.yaml", "package.json", ".ci/buf-breaking"]) cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=ci", "-c", "user.email=ci@example.com", ...args], { cwd: dir, stdio: "pipe" });
  git("init", "-q");
  writeFileSync(join(dir, ".gitignore"), "node_modules\n");
  return {
    dir,
    commit: (message) => {
      git("add", "-A");
      git("commit", "-qm", message);
    },
    run: () => {
      const result = spawnSync("bash", [".ci/buf-breaking"], { cwd: dir, encoding: "utf8" });
      return { status: result.status, output: `${result.stdout}${result.stderr}` };
    },
  };
}

const CLIENT_PROTO = "proto/tessera/admin/v1/client.proto";
const breakScopePolicy = (dir: string) => {
  const path = join(dir, CLIENT_PROTO);
  writeFileSync(path, readFileSync(path, "utf8").replace("string scope_policy = 3;", "int32 scope_policy = 3;"));
};

describe(".ci/buf-breaking", () => {
  it("the first commit then skipped, exit 0", () => {
    const repo = repository();
    repo.commit("first");
    const { status, output } = repo.run();
    assert.equal(status, 0, output);
    assert.match(output, /skipped \(no previous commit/);
  });

  it("a compatible change (a new field) passes; a field changing type fails naming it", () => {
    const repo = repository();
    repo.commit("first");
    const scope = join(repo.dir, "proto/tessera/admin/v1/scope.proto");
    writeFileSync(scope, readFileSync(scope, "utf8").replace("string etag = 4;", "string etag = 4;\n  // New.\n  string owner = 5;"));
    repo.commit("compatible");
    assert.equal(repo.run().status, 0);
    breakScopePolicy(repo.dir);
    repo.commit("breaking");
    const { status, output } = repo.run();
    assert.notEqual(status, 0);
    assert.match(output, /scope_policy.*changed type from "string" to "int32"/);
  });

  it("a breaking change with a new package version then skipped, exit 0", () => {
    const repo = repository();
    repo.commit("first");
    breakScopePolicy(repo.dir);
    const pkg = join(repo.dir, "package.json");
    writeFileSync(pkg, readFileSync(pkg, "utf8").replace(/"version": "[^"]+"/, '"version": "99.0.0"'));
    repo.commit("breaking, new major version");
    const { status, output } = repo.run();
    assert.equal(status, 0, output);
    assert.match(output, /skipped \(package version .* -> 99\.0\.0/);
  });
});
