/**
 * Tessera's benchmark (issue 7): starts Tessera and the baseline servers as their own processes,
 * drives them from separate load-generator processes, and writes results/latest.json and
 * results/latest.md. See bench/README.md.
 *
 *   npm run bench            # about 12 minutes on 2 cores
 *   npm run bench:quick      # about 3 minutes
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { startMongoServer, type MongoServer } from "../test/support/mongo-server.js";
import type { CryptoFloor, CryptoFloorInput } from "./crypto-floor.js";
import { h2loadAvailable, type GeneratorName } from "./generators.js";
import { OtherProcessWatcher, findProcess, peakRssMiB } from "./proc.js";
import { summarizeProfileFile } from "./profile-summary.js";
import { BENCH_REALM, writeSeed } from "./realm.js";
import {
  addRatios,
  checkTargets,
  markdownReport,
  scaleComparison,
  scenarioLabel,
  type BenchResult,
  type Measurement,
  type ScaleSide,
} from "./report.js";
import { gatewayToken, requestSpec, type Protocol } from "./requests.js";
import { killAll, startNoop, startTessera, type ServerProcess, type StorageChoice } from "./servers.js";
import { lastWindow, log, measure, type Target, type WindowShape } from "./window.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const BENCH = fileURLToPath(new URL(".", import.meta.url));

const USAGE = `Usage: npm run bench [-- OPTIONS]     (npm run bench:quick = --quick)

  --quick                 about 3 minutes: concurrency 16 only, 2 s windows, 10 vs 10,000 clients
  --duration S            measured seconds per window (default 6; quick 2)
  --warmup S              warm-up seconds per window (default 2; quick 1)
  --concurrency LIST      e.g. 1,16,64 (default; quick 16)
  --scale-clients N       clients and users of the large realm (default 100000; quick 10000; 0 skips)
  --no-mongo              skip MongoDB storage (FerretDB)
  --no-profile            skip the CPU profile
  --http-generator NAME   h2load (default when installed) or autocannon, for Connect and the OAuth form
  --no-build              do not run npm run build first
  --out DIR               results directory (default bench/results)

h2load is Debian's nghttp2-client: apt-get install -y nghttp2-client. Without it, gRPC is driven by
@grpc/grpc-js only and HTTP/1.1 by autocannon.
`;

/** The run's settings, from the command line. */
interface Settings {
  mode: "full" | "quick";
  shape: WindowShape;
  concurrency: number[];
  scaleClients: number;
  scaleRounds: number;
  extraRealms: number;
  profileSeconds: number;
  mongo: boolean;
  profile: boolean;
  build: boolean;
  httpGenerator: GeneratorName;
  h2load?: string;
  out: string;
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      duration: { type: "string" },
      warmup: { type: "string" },
      concurrency: { type: "string" },
      "scale-clients": { type: "string" },
      "no-mongo": { type: "boolean" },
      "no-profile": { type: "boolean" },
      "http-generator": { type: "string" },
      "no-build": { type: "boolean" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const number = (text: string | undefined, fallback: number, name: string) => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a number, got ${text}`);
    return n;
  };
  const shape = { warmupSeconds: number(values.warmup, quick ? 1 : 2, "warmup"), durationSeconds: number(values.duration, quick ? 2 : 6, "duration") };
  // The subject token lives 300 s; one is fetched before each window.
  if (shape.warmupSeconds + shape.durationSeconds > 240) throw new Error("--warmup + --duration must stay under 240 s (the subject token lives 300 s)");
  if (shape.durationSeconds < 1) throw new Error("--duration: at least 1 s");
  const concurrency = (values.concurrency ?? (quick ? "16" : "1,16,64")).split(",").map((c) => number(c, 16, "concurrency"));
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 256)) throw new Error("--concurrency: integers from 1 to 256");
  const h2load = h2loadAvailable();
  const httpGenerator = (values["http-generator"] ?? (h2load ? "h2load" : "autocannon")) as GeneratorName;
  if (httpGenerator !== "h2load" && httpGenerator !== "autocannon") throw new Error("--http-generator: h2load or autocannon");
  if (httpGenerator === "h2load" && !h2load) throw new Error("--http-generator h2load: h2load is not installed (apt-get install -y nghttp2-client)");
  return {
    mode: quick ? "quick" : "full",
    shape,
    concurrency,
    scaleClients: number(values["scale-clients"], quick ? 10_000 : 100_000, "scale-clients"),
    scaleRounds: quick ? 1 : 3,
    extraRealms: 99,
    profileSeconds: quick ? 5 : 10,
    mongo: !values["no-mongo"],
    profile: !values["no-profile"],
    build: !values["no-build"],
    httpGenerator,
    h2load,
    out: values.out ?? join(BENCH, "results"),
  };
}

/** Stops of everything started, last first: servers, FerretDB. */
const stops: (() => Promise<void>)[] = [];

async function stopAll(): Promise<void> {
  while (stops.length > 0) await stops.pop()!().catch(() => {});
}

/** FerretDB's query plan for Tessera's client lookup, as one line. */
async function explainClientLookup(uri: string, database: string): Promise<string> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    const plan = (await client.db(database).collection("clients").find({ realm: "bench", clientId: "gateway" }).explain()) as Record<string, unknown>;
    const planner = plan.queryPlanner as { Plan?: unknown } | undefined;
    return `\`${JSON.stringify(planner?.Plan ?? planner)}\`, filterPushdown ${String(plan.filterPushdown)}`;
  } catch (error) {
    return `not available (${String(error)})`;
  } finally {
    await client.close();
  }
}

/** Runs a script of bench/ in its own node process and parses its last stdout line as JSON. */
function runScript<T>(script: string, input: unknown, timeoutSeconds: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(BENCH, script), JSON.stringify(input)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutSeconds * 1000);
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${script} exited with ${code}`));
      else resolve(JSON.parse(stdout.trim().split("\n").at(-1)!) as T);
    });
  });
}

/** Exchanges a fresh gateway token once over the form endpoint: a real subject token and a real issued token. */
async function sampleTokens(base: string): Promise<{ subjectToken: string; issuedToken: string }> {
  const subjectToken = await gatewayToken(base);
  const response = await fetch(`${base}/realms/${BENCH_REALM}/protocol/openid-connect/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: requestSpec("exchange", "form", base).headers.authorization },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: subjectToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      audience: "orders-api",
    }).toString(),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`exchange failed: HTTP ${response.status} ${JSON.stringify(body)}`);
  return { subjectToken, issuedToken: body.access_token };
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const startedAt = new Date();
  const others = new OtherProcessWatcher();
  const notes: string[] = [];
  const loadStart = os.loadavg();
  if (!settings.h2load) {
    const note = "h2load not found: the h2load windows were skipped (install it with `apt-get install -y nghttp2-client`); HTTP/1.1 used autocannon.";
    notes.push(note);
    log(note);
  }

  if (settings.build) {
    log("npm run build");
    const status = await new Promise<number | null>((resolve) => spawn("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" }).once("close", resolve));
    if (status !== 0) throw new Error("npm run build failed");
  }
  if (!existsSync(join(ROOT, "dist/src/cli/tessera.js"))) throw new Error("dist/src/cli/tessera.js is missing: run npm run build");

  await mkdir(settings.out, { recursive: true });
  const work = await mkdtemp(join(os.tmpdir(), "tessera-bench-"));
  const measurements: Measurement[] = [];
  const startups: BenchResult["startups"] = [];
  const scale: BenchResult["scale"] = [];
  let cryptoFloor: CryptoFloor | undefined;
  const profiles: BenchResult["profiles"] = [];
  let drift: BenchResult["drift"];
  const shape = settings.shape;
  const grpcGenerators: GeneratorName[] = settings.h2load ? ["grpc-js", "h2load"] : ["grpc-js"];
  const http = settings.httpGenerator;
  const started = (server: ServerProcess) => {
    stops.push(server.stop);
    startups.push({ label: server.label, seconds: server.startSeconds, rssMiB: peakRssMiB(server.pid) });
    log(`${server.label} ready in ${server.startSeconds.toFixed(1)} s (pid ${server.pid})`);
    return server;
  };

  try {
    const small = await writeSeed(work, { clients: 10, users: 10 }, 0);

    // Baseline servers and Tessera (memory, small realm).
    const [noopConnect, noopGrpcJs, memory] = await Promise.all([
      startNoop("connect", "no-op (Tessera's stack)"),
      startNoop("grpc-js", "no-op (plain grpc-js)"),
      startTessera({ label: `Tessera memory, ${small.label}`, storage: { kind: "memory" }, files: small.files, grpcPort: true }),
    ]);
    [noopConnect, noopGrpcJs, memory].forEach(started);
    const memoryTarget: Target = { kind: "tessera", server: memory, storage: "memory", seed: small };

    // 1. The crypto floor.
    const tokens = await sampleTokens(memory.base);
    log("crypto floor");
    cryptoFloor = await runScript<CryptoFloor>(
      "crypto-floor.ts",
      { ...tokens, warmupSeconds: shape.warmupSeconds / 2, durationSeconds: Math.max(1, shape.durationSeconds / 2) } satisfies CryptoFloorInput,
      120,
    );
    log(`crypto floor: ${cryptoFloor.verifyPlusSignCpuUs.toFixed(0)} CPU-µs per verify + sign`);

    // 2. Transport floors (no-op on Tessera's stack, every surface; no-op on a plain grpc-js server)
    // and Tessera with memory storage, each scenario right after its baselines: a ratio's two
    // windows share the machine's conditions.
    const surfaces: [Protocol, GeneratorName][] = [...grpcGenerators.map((g): [Protocol, GeneratorName] => ["grpc", g]), ["connect", http], ["form", http]];
    const noopTarget: Target = { kind: "noop-connect", server: noopConnect, sampleToken: tokens.subjectToken };
    const grpcJsTarget: Target = { kind: "noop-grpc-js", server: noopGrpcJs, sampleToken: tokens.subjectToken };
    for (const c of settings.concurrency) {
      for (const [protocol, generator] of surfaces) {
        measurements.push(await measure(noopTarget, "exchange", protocol, generator, c, shape));
        if (protocol === "grpc") measurements.push(await measure(grpcJsTarget, "exchange", "grpc", generator, c, shape));
        measurements.push(await measure(memoryTarget, "exchange", protocol, generator, c, shape));
        // The same gRPC calls on --grpc-port (@grpc/grpc-js), right after the plain grpc-js no-op window.
        if (protocol === "grpc") measurements.push(await measure(memoryTarget, "exchange", "grpc-port", generator, c, shape));
      }
    }

    // 3. Tessera, memory storage: client credentials, the health check.
    const c16 = settings.concurrency.includes(16) ? 16 : settings.concurrency[0];
    const primary: GeneratorName = settings.h2load ? "h2load" : "grpc-js";
    measurements.push(await measure(memoryTarget, "client_credentials", "grpc", primary, c16, shape));
    measurements.push(await measure(memoryTarget, "client_credentials", "form", http, c16, shape));
    if (settings.h2load) {
      const health = await measure(memoryTarget, "health", "grpc", "h2load", c16, shape);
      if (health.ok || !health.error?.startsWith("check call failed")) measurements.push(health);
      else notes.push(`grpc.health.v1.Health/Check not measured: ${health.error}`);
    }

    // 4. Tessera, MongoDB storage (FerretDB), against the same scenarios at c16 plus gRPC at every concurrency.
    let mongo: MongoServer | undefined;
    let mongoTarget: Target | undefined;
    if (settings.mongo) {
      log("starting FerretDB");
      mongo = await startMongoServer();
      stops.push(mongo.stop);
      const port = new URL(mongo.uri).port;
      const storagePid = findProcess(["ferretdb", `--listen-addr=127.0.0.1:${port}`]);
      if (!storagePid) notes.push("FerretDB's process was not found: its CPU is not reported.");
      const storage: StorageChoice = { kind: "mongodb", uri: mongo.uri, database: "bench_small" };
      const server = started(await startTessera({ label: `Tessera mongodb, ${small.label}`, storage, files: small.files, grpcPort: true }));
      mongoTarget = { kind: "tessera", server, storage: "mongodb", seed: small, ...(storagePid && { storagePid }) };
      for (const c of settings.concurrency) {
        measurements.push(await measure(mongoTarget, "exchange", "grpc", primary, c, shape));
        measurements.push(await measure(mongoTarget, "exchange", "grpc-port", primary, c, shape));
      }
      if (primary !== "grpc-js") measurements.push(await measure(mongoTarget, "exchange", "grpc", "grpc-js", c16, shape));
      measurements.push(await measure(mongoTarget, "exchange", "connect", http, c16, shape));
      measurements.push(await measure(mongoTarget, "exchange", "form", http, c16, shape));
      measurements.push(await measure(mongoTarget, "client_credentials", "grpc", primary, c16, shape));

      // 4b. --workers: the same storage and seed, two worker processes sharing the ports. The
      // primary hands out connections, not calls: h2load spreads the calls over 4 connections, for
      // the single process (the server above) and the pool alike, windows alternating.
      if (settings.h2load) {
        const workers = 2;
        // Its own database: every Tessera of the benchmark has a master key of its own.
        const poolStorage: StorageChoice = { ...storage, database: "bench_workers" };
        const pool = started(await startTessera({ label: `Tessera mongodb, ${small.label}, --workers ${workers}`, storage: poolStorage, files: small.files, grpcPort: true, workers }));
        const poolTarget: Target = { ...mongoTarget, server: pool, workers };
        for (const c of settings.concurrency.filter((c) => c >= c16)) {
          for (const protocol of ["grpc-port", "grpc"] as const) {
            measurements.push(await measure(mongoTarget, "exchange", protocol, "h2load", c, shape, 4));
            measurements.push(await measure(poolTarget, "exchange", protocol, "h2load", c, shape, 4));
          }
        }
        await pool.stop();
      } else notes.push("--workers not measured: it needs h2load to spread calls over several connections.");
    }

    // 5. Scale: the small realm against a large one among 100 realms, windows alternating.
    if (settings.scaleClients > 0) {
      const large = await writeSeed(work, { clients: settings.scaleClients, users: settings.scaleClients }, settings.extraRealms);
      log(`importing the large seed (${large.label}) into memory${mongo ? " and MongoDB" : ""}`);
      // Fresh small-realm servers too: the ones measured so far carry the audit events and token
      // lineage of every exchange before, which cost memory and CPU (see the drift below).
      const mongoStorage = (database: string): StorageChoice => ({ kind: "mongodb", uri: mongo!.uri, database });
      const [memorySmall, memoryBig, mongoSmall, mongoBig] = await Promise.all([
        startTessera({ label: `Tessera memory, ${small.label} (fresh)`, storage: { kind: "memory" }, files: small.files }),
        startTessera({ label: `Tessera memory, ${large.label}`, storage: { kind: "memory" }, files: large.files, timeoutSeconds: 600 }),
        mongo ? startTessera({ label: `Tessera mongodb, ${small.label} (fresh)`, storage: mongoStorage("bench_scale_small"), files: small.files }) : undefined,
        mongo ? startTessera({ label: `Tessera mongodb, ${large.label}`, storage: mongoStorage("bench_large"), files: large.files, timeoutSeconds: 600 }) : undefined,
      ]);
      for (const server of [memorySmall, memoryBig, mongoSmall, mongoBig]) if (server) started(server);
      const sides: [("memory" | "mongodb"), Target, Target][] = [
        ["memory", { kind: "tessera", server: memorySmall, storage: "memory", seed: small }, { kind: "tessera", server: memoryBig, storage: "memory", seed: large }],
      ];
      if (mongoTarget && mongoSmall && mongoBig) {
        sides.push(["mongodb", { ...mongoTarget, server: mongoSmall }, { ...mongoTarget, server: mongoBig, seed: large }]);
        const plan = await explainClientLookup(mongo!.uri, "bench_large");
        notes.push(
          `FerretDB's plan for a client lookup \`{ realm, clientId }\` in the large realm: ${plan}. FerretDB 1.24 on SQLite reads the whole collection ` +
            "for it although Tessera created a unique index on those fields: any lookup that reaches storage costs in proportion to the documents stored, " +
            "which real MongoDB (using the index) would not.",
        );
      }
      for (const [storage, smallTarget, largeTarget] of sides) {
        const side = (target: Target): ScaleSide => ({
          seed: target.seed!.label,
          startSeconds: target.server.startSeconds,
          rssAfterStartMiB: startups.find((x) => x.label === target.server.label)?.rssMiB ?? Number.NaN,
          cpuUs: [],
          requestsPerSecond: [],
          p50Ms: [],
        });
        const pair = [side(smallTarget), side(largeTarget)];
        for (let round = 0; round < settings.scaleRounds; round++) {
          for (const [i, target] of [smallTarget, largeTarget].entries()) {
            const m = await measure(target, "exchange", "grpc", primary, c16, shape);
            if (!m.ok) continue;
            pair[i].cpuUs.push(m.serverCpuUs);
            pair[i].requestsPerSecond.push(m.requestsPerSecond);
            pair[i].p50Ms.push(m.p50Ms);
          }
        }
        if (pair.every((x) => x.cpuUs.length > 0)) scale.push(scaleComparison(storage, pair[0], pair[1], { protocol: "grpc", generator: primary, concurrency: c16 }));
        else notes.push(`scale (${storage}): a side had no successful window; see the log.`);
      }
      await Promise.all([memorySmall, memoryBig, mongoSmall, mongoBig].map((server) => server?.stop())); // their stops stay listed: a second stop does nothing
    }

    // 5b. Drift: the first memory server again, after every exchange it has served so far.
    const firstWindow = measurements.find((m) => m.ok && m.target === "tessera" && m.storage === "memory" && m.operation === "exchange" && m.protocol === "grpc" && m.generator === primary && m.concurrency === c16);
    if (firstWindow) {
      const served = measurements.filter((m) => m.target === "tessera" && m.storage === "memory").reduce((n, m) => n + m.requests, 0);
      const last = await measure(memoryTarget, "exchange", "grpc", primary, c16, shape);
      if (last.ok) drift = { storage: "memory", scenario: scenarioLabel(last), served, first: firstWindow, last };
    }

    // 6. CPU profiles of Tessera during one gRPC exchange window at c16: memory, then MongoDB storage,
    // on the main port (Connect-node); then memory storage on --grpc-port (@grpc/grpc-js).
    if (settings.profile) {
      const runs: [StorageChoice, Protocol][] = [
        [{ kind: "memory" }, "grpc"],
        ...(mongo ? [[{ kind: "mongodb" as const, uri: mongo.uri, database: "bench_profile" }, "grpc"] as [StorageChoice, Protocol]] : []),
        [{ kind: "memory" }, "grpc-port"],
      ];
      for (const [storage, protocol] of runs) {
        const dir = join(work, `profile-${storage.kind}-${protocol}`);
        await mkdir(dir);
        const server = started(await startTessera({ label: `Tessera ${storage.kind}, profiled (--cpu-prof)`, storage, files: small.files, cpuProfileDir: dir, grpcPort: protocol === "grpc-port" }));
        const target: Target = { kind: "tessera", server, storage: storage.kind, seed: small, ...(storage.kind === "mongodb" && mongoTarget?.storagePid && { storagePid: mongoTarget.storagePid }) };
        const m = await measure(target, "exchange", protocol, primary, c16, { warmupSeconds: shape.warmupSeconds, durationSeconds: settings.profileSeconds });
        const window = lastWindow();
        await server.stop();
        const [file] = await readdir(dir);
        if (!file) {
          notes.push(`the profiled server (${storage.kind}) wrote no .cpuprofile`);
          continue;
        }
        const name = `tessera-${storage.kind}-exchange-${protocol}-c${c16}.cpuprofile`;
        await rename(join(dir, file), join(settings.out, name));
        profiles.push({
          file: `bench/results/${name}`,
          scenario: `Tessera (${storage.kind}), exchange, ${scenarioLabel(m)}, the ${settings.profileSeconds} s measured window only`,
          measurement: m,
          summary: await summarizeProfileFile(join(settings.out, name), 20, window),
        });
      }
    }
  } finally {
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }

  const machine: BenchResult["machine"] = {
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    ...(settings.h2load && { h2load: settings.h2load }),
    loadAverageStart: loadStart,
    loadAverageEnd: os.loadavg(),
  };
  notes.push(
    "Server CPU is utime + stime of the server process (all its threads) from /proc/PID/stat, read when the measured window starts and after the generator exits, divided by the calls of the window.",
    "Peak RSS is VmHWM of /proc/PID/status after resetting it (clear_refs) before each window.",
    "\"client cores\" is the load generator's CPU over its whole run; \"other cores\" is the machine's busy time in the window minus the server, FerretDB, the generator and the benchmark itself: anything else running.",
    "Connect is sent as JSON over HTTP/1.1; gRPC as one HTTP/2 connection with c concurrent streams; HTTP/1.1 as c connections.",
  );
  const result: BenchResult = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    mode: settings.mode,
    settings: { ...shape, concurrency: settings.concurrency, scaleClients: settings.scaleClients, scaleRounds: settings.scaleRounds, profileSeconds: settings.profileSeconds },
    machine,
    otherProcesses: others.stop(),
    ...(cryptoFloor && { cryptoFloor }),
    startups,
    measurements,
    scale,
    targets: [],
    profiles,
    ...(drift && { drift }),
    notes,
  };
  addRatios(result);
  result.targets = checkTargets(result);
  await writeFile(join(settings.out, "latest.json"), `${JSON.stringify(result, null, 2)}\n`);
  const markdown = markdownReport(result);
  await writeFile(join(settings.out, "latest.md"), markdown);
  process.stdout.write(markdown);
  log(`wrote ${join(settings.out, "latest.json")} and latest.md in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    void stopAll().finally(() => process.exit(130));
  });
}
main().catch(async (error: unknown) => {
  killAll();
  await stopAll();
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
