import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { freePort } from "../support/ports.js";
import { bannerOf, jsonLines } from "../ops/support.js";

const CLI = ["--import", "tsx", "src/cli/tessera.ts"];
const MASTER_KEY = Buffer.alloc(32, 7).toString("base64");

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tessera ...` as a user would and collects its exit. */
function tessera(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tessera ${args.join(" ")} did not exit: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}


/** The one line a failed start prints. */
function failureLine(exit: Exit): string {
  const lines = exit.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${exit.stderr}`);
  return lines[0];
}

describe("tessera serve start-up", () => {
  it("an unknown flag then one line naming it and a non-zero exit", async () => {
    const exit = await tessera(["serve", "--prot", "8080"]);
    assert.notEqual(exit.code, 0);
    assert.match(failureLine(exit), /--prot/);
  });

  it("a bad port then one line naming --port", async () => {
    const exit = await tessera(["serve", "--port", "eighty"]);
    assert.notEqual(exit.code, 0);
    assert.match(failureLine(exit), /--port/);
  });

  it("an invalid realm file then one line naming the file and the key, nothing served", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-cli-"));
    const file = join(dir, "bad.yaml");
    await writeFile(file, "realm: bad\nclients:\n  - clientId: x\n    secret: s3cret-value\n    tokenExchange: { scopePolicy: up }\n");
    const exit = await tessera(["serve", "--port", "0", "--import", file]);
    assert.notEqual(exit.code, 0);
    const line = failureLine(exit);
    assert.match(line, /bad\.yaml/);
    assert.match(line, /clients\[0\]\.tokenExchange\.scopePolicy/);
    assert.ok(!line.includes("s3cret-value"));
    assert.equal(exit.stdout, "", "nothing listened");
  });

  it("a good file then a bad file then nothing is imported and the start fails", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-cli-"));
    await writeFile(join(dir, "good.json"), JSON.stringify({ realm: "good" }));
    await writeFile(join(dir, "broken.yaml"), "realm: [unclosed\n");
    const exit = await tessera(["serve", "--port", "0", "--import", join(dir, "good.json"), "--import", join(dir, "broken.yaml")]);
    assert.notEqual(exit.code, 0);
    assert.match(failureLine(exit), /broken\.yaml/);
  });

  it("an unreadable realm file then one line naming it", async () => {
    const exit = await tessera(["serve", "--port", "0", "--import", "/nonexistent/realm.yaml"]);
    assert.notEqual(exit.code, 0);
    assert.match(failureLine(exit), /\/nonexistent\/realm\.yaml/);
  });

  it("an unreachable MongoDB then one line saying so, without the URI's password", async () => {
    const port = await freePort();
    const exit = await tessera(["serve", "--port", "0"], {
      MONGODB_URI: `mongodb://admin:hunter2@127.0.0.1:${port}/`,
      TESSERA_MASTER_KEY: MASTER_KEY,
    });
    assert.notEqual(exit.code, 0);
    const line = failureLine(exit);
    assert.match(line, /MongoDB unreachable/);
    assert.match(line, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.ok(!line.includes("hunter2"));
  });

  it("MongoDB storage without TESSERA_MASTER_KEY then one line asking for it", async () => {
    const exit = await tessera(["serve", "--port", "0", "--mongodb-uri", "mongodb://127.0.0.1:1/"]);
    assert.notEqual(exit.code, 0);
    assert.match(failureLine(exit), /TESSERA_MASTER_KEY/);
  });

  it("no arguments beyond serve then the demo realm is served, the banner shows a working example, SIGTERM exits 0", async () => {
    const child = spawn(process.execPath, [...CLI, "serve", "--port", "0", "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const deadline = Date.now() + 20_000;
    while (bannerOf(stdout) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    try {
      const command = bannerOf(stdout)?.tryCommand ?? "";
      const url = /http:\/\/\S+token/.exec(command)?.[0];
      assert.ok(url, `banner without example:\n${stdout}`);
      const response = await fetch(url, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from("gateway:gateway-secret").toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials&scope=orders.read",
      });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { access_token: string };
      const claims = JSON.parse(Buffer.from(body.access_token.split(".")[1], "base64url").toString()) as { iss: string };
      assert.equal(claims.iss, url.replace("/protocol/openid-connect/token", ""), "issuer names the real port");
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0);
  });

  /** Starts `tessera serve --port 0` in memory mode and waits for its banner. */
  async function serveMemory(env: Record<string, string>): Promise<{ stdout: () => string; stderr: () => string; stop: () => Promise<number | null> }> {
    const child = spawn(process.execPath, [...CLI, "serve", "--port", "0"], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const deadline = Date.now() + 20_000;
    while (bannerOf(stdout) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return {
      stdout: () => stdout,
      stderr: () => stderr,
      stop: () => {
        child.kill("SIGTERM");
        return exited;
      },
    };
  }

  it("memory storage without bootstrap credentials then a generated admin secret is in the banner record once, in no other line, and it works", async () => {
    const served = await serveMemory({});
    try {
      const banner = bannerOf(served.stdout());
      const secret = banner?.bootstrapAdmin?.generatedSecret;
      const clientId = banner?.bootstrapAdmin?.clientId;
      assert.ok(secret && clientId, `no admin credentials in the banner:\n${served.stdout()}`);
      assert.equal(clientId, "admin");
      assert.ok(secret.length >= 40, "a random secret of 32 bytes");
      const base = banner.urls.main;
      const token = await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials",
      });
      assert.equal(token.status, 200);
      const { access_token } = (await token.json()) as { access_token: string };
      const listed = await fetch(`${base}/tessera.admin.v1.AdminService/ListRealms`, {
        method: "POST",
        headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(listed.status, 200);
      assert.match(await listed.text(), /"demo"/);
      const anonymous = await fetch(`${base}/tessera.admin.v1.AdminService/ListRealms`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      assert.equal(anonymous.status, 401, "no token: unauthenticated");
      await anonymous.body?.cancel();
      const others = jsonLines(served.stdout()).filter((line) => line.msg !== "Tessera listening");
      assert.ok(others.length > 0 && !others.some((line) => JSON.stringify(line).includes(secret)), "the secret is in no log line");
      assert.ok(!served.stderr().includes(secret), "nor on stderr");
    } finally {
      assert.equal(await served.stop(), 0);
    }
  });

  it("bootstrap credentials in the environment then no secret is printed and those credentials work", async () => {
    const served = await serveMemory({ TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID: "ops", TESSERA_BOOTSTRAP_ADMIN_SECRET: "ops-secret-of-some-length" });
    try {
      assert.equal(bannerOf(served.stdout())?.bootstrapAdmin, undefined);
      assert.doesNotMatch(served.stdout(), /ops-secret-of-some-length/);
      const base = bannerOf(served.stdout())?.urls.main;
      const token = await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from("ops:ops-secret-of-some-length").toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials",
      });
      assert.equal(token.status, 200);
      await token.body?.cancel();
    } finally {
      assert.equal(await served.stop(), 0);
    }
  });
});
