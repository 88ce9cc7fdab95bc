/**
 * `tessera serve --workers N` as a process tree: the primary prepares storage once and forks N
 * workers that share the port; a worker that dies is replaced; SIGTERM stops them all.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { startMongoServer, type MongoServer } from "../support/mongo-server.js";
import { bannerOf, eventually, jsonLines } from "../ops/support.js";
import { SPAN_KIND, startOtlpReceiver } from "../support/otlp-receiver.js";

const MASTER_KEY = Buffer.alloc(32, 9).toString("base64");
const GATEWAY = `Basic ${Buffer.from("gateway:gateway-secret").toString("base64")}`;
const TOKEN_PATH = "/realms/demo/protocol/openid-connect/token";

interface Tree {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The JSON log lines written so far. */
  logs: () => Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Starts `tessera serve` with `args` (info logs on stdout, JSON; start-up failures on stderr). */
function start(args: string[], masterKey = MASTER_KEY, env: Record<string, string> = {}): Tree {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/tessera.ts", "serve", "--port", "0", "--log-level", "info", ...args], {
    env: { PATH: process.env.PATH, TESSERA_MASTER_KEY: masterKey, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d));
  child.stderr?.on("data", (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const logs = () => jsonLines(stdout);
  return { child, stdout: () => stdout, stderr: () => stderr, logs, exited };
}

/** A form POST on a connection of its own: the cluster primary hands each connection to the next worker. */
function post(port: number, form: Record<string, string>): Promise<{ status: number; body: Record<string, string> }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: TOKEN_PATH,
        agent: false,
        headers: { authorization: GATEWAY, "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, string> }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A GET on a connection of its own; the body as text. */
function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${text}`))));
      })
      .on("error", reject);
  });
}

const clientCredentials = (port: number) => post(port, { grant_type: "client_credentials", scope: "orders.read" });
const exchange = (port: number, subjectToken: string) =>
  post(port, {
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: subjectToken,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    audience: "orders-api",
  });

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("tessera serve --workers", () => {
  let mongo: MongoServer;
  const database = `workers_${randomUUID().replaceAll("-", "")}`;
  before(async () => {
    mongo = await startMongoServer();
  });
  after(async () => {
    await mongo?.stop();
  });

  it("--workers 2 with memory storage then one line saying MongoDB storage is needed, exit 2, nothing forked", async () => {
    const tree = start(["--storage", "memory", "--workers", "2"]);
    assert.equal(await tree.exited, 2);
    assert.equal(tree.stderr(), "tessera: --workers: more than 1 needs MongoDB storage (memory storage lives in one process)\n");
    assert.equal(tree.stdout(), "");
  });

  it("--workers 0 then one line asking for 1-256", async () => {
    const tree = start(["--workers", "0", "--storage", "mongodb", "--mongodb-uri", mongo.uri]);
    assert.equal(await tree.exited, 2);
    assert.equal(tree.stderr(), 'tessera: --workers: expected an integer 1-256, got "0"\n');
  });

  it("--workers 2 on MongoDB then one banner, realms imported once, both workers serve, trace and honour each other's tokens, a killed worker is replaced, SIGTERM stops all with exit 0", async () => {
    const receiver = await startOtlpReceiver();
    const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "100" };
    const tree = start(["--workers", "2", "--storage", "mongodb", "--mongodb-uri", mongo.uri, "--mongodb-database", database, "--import", "examples/demo-realm.yaml"], MASTER_KEY, tracing);
    try {
      await eventually("the banner", async () => bannerOf(tree.stdout())?.workers === 2, 60_000);
      assert.equal(tree.logs().filter((l) => l.msg === "Tessera listening").length, 1, tree.stdout());
      assert.equal(bannerOf(tree.stdout())?.storage, "mongodb");
      const port = Number(new URL(bannerOf(tree.stdout())?.urls.main ?? "").port);
      const logs = tree.logs();
      assert.equal(logs.filter((l) => l.msg === "realm imported").length, 1, "the primary imports, the workers do not");
      const workers = logs.filter((l) => l.msg === "worker started").map((l) => l.pid as number);
      assert.equal(workers.length, 2);

      // Tokens issued by one worker are exchanged at another: one key set in storage, no per-process key.
      const results = [];
      for (let i = 0; i < 8; i += 1) {
        const issued = await clientCredentials(port);
        assert.equal(issued.status, 200, JSON.stringify(issued.body));
        results.push(await exchange(port, issued.body.access_token));
      }
      assert.deepEqual(results.map((r) => r.status), Array(8).fill(200), JSON.stringify(results.find((r) => r.status !== 200)?.body));
      const served = new Set(tree.logs().filter((l) => l.msg === "request" && l.worker !== undefined).map((l) => l.worker));
      assert.equal(served.size, 2, `requests were served by workers ${[...served].join(", ")}`);
      // Each worker runs its own SDK: the requests' server spans come from both worker processes.
      const serverSpans = () => receiver.spans.filter((span) => span.kind === SPAN_KIND.server);
      await eventually("both workers' spans", async () => new Set(serverSpans().map((span) => span.resource?.["process.pid"])).size === 2, 10_000);
      assert.deepEqual(new Set(serverSpans().map((span) => span.resource?.["process.pid"])), new Set(workers));

      // Whichever worker a scrape reaches, /metrics counts the requests of both.
      for (let scrape = 0; scrape < 4; scrape += 1) {
        const text = await get(port, "/metrics");
        const line = text.split("\n").find((l) => l.startsWith('tessera_requests_total{surface="http",operation="token/token_exchange",result="ok"'));
        assert.match(line ?? "", / 8$/, `scrape ${scrape}: ${line}`);
        assert.match(text, /^tessera_ready 1$/m);
      }

      process.kill(workers[0], "SIGKILL");
      await eventually("a replacement worker", async () => tree.logs().filter((l) => l.msg === "worker started").length === 3, 30_000);
      const replacement = tree.logs().filter((l) => l.msg === "worker started")[2].pid as number;
      await eventually("the replacement serving", async () => {
        const statuses = await Promise.all(Array.from({ length: 4 }, () => clientCredentials(port).then((r) => r.status)));
        return statuses.every((s) => s === 200) && tree.logs().some((l) => l.msg === "request" && l.worker === 3);
      }, 30_000);

      tree.child.kill("SIGTERM");
      assert.equal(await tree.exited, 0);
      assert.ok(!isAlive(workers[1]) && !isAlive(replacement), "every worker has exited");
    } finally {
      if (tree.child.exitCode === null) tree.child.kill("SIGKILL");
      receiver.server.close();
    }
  });

  // The database of the test above, whose realms were stored under MASTER_KEY.
  it("a start with another master key than the realms were stored with then one line naming the realm, exit 2, no worker forked", async () => {
    const tree = start(["--workers", "2", "--storage", "mongodb", "--mongodb-uri", mongo.uri, "--mongodb-database", database], Buffer.alloc(32, 1).toString("base64"));
    assert.equal(await tree.exited, 2);
    assert.match(tree.stderr(), /^tessera: realm \w+: its signing key cannot be opened with TESSERA_MASTER_KEY \(.*\): is it the key the realm was stored with\?$/m);
    assert.equal(tree.logs().filter((l) => l.msg === "worker started").length, 0);
  });

  it("a single process with another master key then the same one line and exit 2, not a server that never gets ready", async () => {
    const tree = start(["--storage", "mongodb", "--mongodb-uri", mongo.uri, "--mongodb-database", database], Buffer.alloc(32, 1).toString("base64"));
    assert.equal(await tree.exited, 2);
    const lines = tree.stderr().split("\n").filter((l) => l.startsWith("tessera: "));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^tessera: realm \w+: its signing key cannot be opened with TESSERA_MASTER_KEY \(.*\): is it the key the realm was stored with\?$/);
    assert.equal(bannerOf(tree.stdout()), undefined, tree.stdout());
  });
});
