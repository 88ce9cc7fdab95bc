import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, parseServeConfig, type ServeSettings } from "../../src/config/serve-config.js";
import { SERVE_OPTIONS, configReferenceTable } from "../../src/config/options.js";
import { maskMongoUri } from "../../src/config/print-config.js";

const MASTER_KEY = Buffer.alloc(32, 9).toString("base64");

/** Writes a config file in a fresh folder and returns its path. */
function configFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "tessera-config-")), "tessera.yaml");
  writeFileSync(path, text);
  return path;
}

function settings(argv: string[], env: NodeJS.ProcessEnv = {}): ServeSettings {
  const config = parseServeConfig(argv, env);
  assert.equal(config.help, false);
  return config as ServeSettings;
}

function configError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseServeConfig(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(!error.message.includes("\n"), "one line");
    return error.message;
  }
  assert.fail("expected a ConfigError");
}

describe("config file (--config, TESSERA_CONFIG)", () => {
  const file = configFile(`
host: 0.0.0.0
port: 9443
logLevel: warn
imports: [realms/a.yaml, /abs/b.yaml]
tlsCert: certs/tls.crt
tlsKey: certs/tls.key
shutdownGrace: 30s
corsOrigins:
  - https://app.example.com
mongodbUri: mongodb://file-db
masterKey: ${MASTER_KEY}
`);
  const dir = file.slice(0, file.lastIndexOf("/"));

  it("reads every key; relative paths are relative to the file; TLS makes the public URL https", () => {
    const config = settings(["--config", file]);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.port, 9443);
    assert.equal(config.logLevel, "warn");
    assert.deepEqual(config.imports, [join(dir, "realms/a.yaml"), "/abs/b.yaml"]);
    assert.deepEqual(config.tls, { certFile: join(dir, "certs/tls.crt"), keyFile: join(dir, "certs/tls.key") });
    assert.equal(config.publicUrl, "https://0.0.0.0:9443");
    assert.equal(config.shutdownGraceMs, 30_000);
    assert.deepEqual(config.corsOrigins, ["https://app.example.com"]);
    assert.deepEqual(config.storage, { kind: "mongodb", uri: "mongodb://file-db", database: "tessera" });
    assert.equal(Buffer.from(config.masterKey ?? []).toString("base64"), MASTER_KEY);
    assert.equal(config.sources.port, file);
    assert.deepEqual(settings([], { TESSERA_CONFIG: file }).port, 9443);
  });

  it("precedence: flag > environment > file > default, for single values and lists", () => {
    assert.equal(settings(["--config", file, "--port", "1"], { TESSERA_PORT: "2" }).port, 1);
    assert.equal(settings(["--config", file], { TESSERA_PORT: "2" }).port, 2);
    assert.equal(settings(["--config", file]).port, 9443);
    assert.equal(settings([]).port, 8080);
    assert.deepEqual(settings(["--config", file], { TESSERA_CORS_ORIGINS: "https://a.example, https://b.example" }).corsOrigins, [
      "https://a.example",
      "https://b.example",
    ]);
    assert.deepEqual(settings(["--config", file, "--cors-origin", "*"], { TESSERA_CORS_ORIGINS: "https://a.example" }).corsOrigins, ["*"]);
    const fromEnv = settings(["--config", file], { TESSERA_PORT: "2" });
    assert.equal(fromEnv.sources.port, "TESSERA_PORT");
    assert.equal(fromEnv.sources.host, file);
  });

  it("an unknown key, a list for a single value, bad YAML, a missing file: one line naming the file and the key", () => {
    assert.match(configError(["--config", configFile("prot: 80\n")]), /tessera\.yaml: prot: unknown key/);
    assert.match(configError(["--config", configFile("port: [1, 2]\n")]), /tessera\.yaml: port: expected a single value/);
    assert.match(configError(["--config", configFile("port: 80\n  bad: indent\n")]), /tessera\.yaml(:\d+)?: not valid YAML/);
    assert.match(configError(["--config", configFile("- a\n- b\n")]), /tessera\.yaml: expected a mapping/);
    assert.match(configError(["--config", "/nonexistent/tessera.yaml"]), /\/nonexistent\/tessera\.yaml: cannot read the config file \(ENOENT\)/);
  });

  it("a bad value in the file then the message names the file and the key, never a secret", () => {
    assert.match(configError(["--config", configFile("port: eighty\n")]), /tessera\.yaml: port: expected an integer 0-65535, got "eighty"/);
    const masterKey = configError(["--config", configFile("masterKey: not-a-key-hunter2\n")]);
    assert.match(masterKey, /tessera\.yaml: masterKey: expected 32 bytes/);
    assert.ok(!masterKey.includes("hunter2"));
    const uri = configError(["--config", configFile("mongodbUri: postgres://u:hunter2@db\n")]);
    assert.match(uri, /tessera\.yaml: mongodbUri: expected a mongodb:\/\//);
    assert.ok(!uri.includes("hunter2"));
  });

  it("validates the new settings: TLS files together, durations, CORS origins", () => {
    assert.match(configError(["--tls-cert", "a.crt"]), /^--tls-cert: expected together with --tls-key/);
    assert.match(configError([], { TESSERA_TLS_KEY: "a.key" }), /^TESSERA_TLS_KEY: expected together with --tls-cert/);
    assert.equal(settings(["--shutdown-grace", "250ms"]).shutdownGraceMs, 250);
    assert.equal(settings(["--shutdown-grace", "2m"]).shutdownGraceMs, 120_000);
    assert.equal(settings(["--shutdown-grace", "5"]).shutdownGraceMs, 5000);
    assert.match(configError(["--shutdown-grace", "soon"]), /^--shutdown-grace: expected a duration/);
    assert.match(configError(["--shutdown-grace", "2h"]), /^--shutdown-grace: expected a duration/);
    assert.equal(settings(["--mongodb-timeout", "1500ms"]).mongodbTimeoutMs, 1500);
    assert.equal(settings([], { TESSERA_MONGODB_TIMEOUT: "2s" }).mongodbTimeoutMs, 2000);
    assert.match(configError(["--mongodb-timeout", "0"]), /^--mongodb-timeout: expected from 100ms to 1m, got "0"/);
    assert.match(configError(["--mongodb-timeout", "5m"]), /^--mongodb-timeout: expected from 100ms to 1m/);
    assert.deepEqual(settings(["--cors-origin", "https://App.Example.com:443/", "--cors-origin", "http://localhost:3000"]).corsOrigins, [
      "https://app.example.com",
      "http://localhost:3000",
    ]);
    for (const bad of ["app.example.com", "https://app.example.com/path", "ftp://x.example", "https://u:p@x.example"]) {
      assert.match(configError(["--cors-origin", bad]), /^--cors-origin: expected \* or an origin/, bad);
    }
  });
});

describe("tessera serve --print-config", () => {
  it("prints the effective config as YAML with each value's source, the MongoDB password and master key masked, and exits 0", async () => {
    const file = configFile("port: 9000\nlogLevel: debug\n");
    const exit = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/tessera.ts", "serve", "--config", file, "--print-config", "--host", "0.0.0.0"], {
        env: { PATH: process.env.PATH, MONGODB_URI: "mongodb://tessera:hunter2@db.example:27017/?authSource=admin", TESSERA_MASTER_KEY: MASTER_KEY, TESSERA_LOG_LEVEL: "warn" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d));
      child.stderr.on("data", (d: Buffer) => (stderr += d));
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(!exit.stdout.includes("hunter2"));
    assert.ok(!exit.stdout.includes(MASTER_KEY));
    const lines = exit.stdout.split("\n");
    assert.ok(lines.includes("host: 0.0.0.0  # --host"));
    assert.ok(lines.includes(`port: 9000  # ${file}`));
    assert.ok(lines.includes("logLevel: warn  # TESSERA_LOG_LEVEL"), "the variable wins over the file");
    assert.ok(lines.includes("mongodbUri: mongodb://tessera:*****@db.example:27017/?authSource=admin  # MONGODB_URI"), exit.stdout);
    assert.ok(lines.includes('masterKey: "*****"  # TESSERA_MASTER_KEY'));
    assert.ok(lines.includes("shutdownGrace: 10s  # default"));
    for (const { key } of SERVE_OPTIONS) assert.ok(lines.some((line) => line.startsWith(`${key}: `)), key);
    // What it prints is a config file tessera serve accepts (once the masked secrets are filled in).
    const reread = settings(["--config", configFile(exit.stdout.replace(/^(storage|mongodbUri|masterKey): .*$/gm, ""))]);
    assert.equal(reread.port, 9000);
    assert.equal(reread.host, "0.0.0.0");
  });

  it("masks the password and secret query options of any MongoDB URI", () => {
    assert.equal(maskMongoUri("mongodb+srv://u:p%40ss@cluster.example.net/db"), "mongodb+srv://u:*****@cluster.example.net/db");
    assert.equal(maskMongoUri("mongodb://h1:1,h2:2/?tlsCertificateKeyFilePassword=x&w=1"), "mongodb://h1:1,h2:2/?tlsCertificateKeyFilePassword=*****&w=1");
    assert.equal(maskMongoUri("mongodb://db:27017"), "mongodb://db:27017");
  });
});

describe("docs/operations.md configuration reference", () => {
  it("the table between the config-reference markers is the one generated from the option definitions (npm run docs:config)", async () => {
    const page = await readFile("docs/operations.md", "utf8");
    const match = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(page);
    assert.ok(match, "docs/operations.md has the config-reference markers");
    assert.equal(match[1], configReferenceTable(), "docs/operations.md's configuration table is stale: run npm run docs:config");
  });
});
