/**
 * The load generators, each run as its own process: @grpc/grpc-js (bench/grpc-load.ts), h2load
 * (native, Debian's nghttp2-client) and autocannon (npm). Each runs a warm-up, calls
 * `onMeasuring` when its measured window starts, and reports a {@link LoadResult}.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { GrpcLoadOptions } from "./grpc-load.js";
import { percentile, type LoadResult } from "./stats.js";

/** A load generator's name. */
export type GeneratorName = "grpc-js" | "h2load" | "autocannon";

/** One request, in the forms each generator needs. */
export interface RequestSpec {
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** Path, e.g. `/tessera.exchange.v1.TokenExchangeService/ExchangeToken`. */
  path: string;
  /** HTTP/2 (gRPC) or HTTP/1.1 (Connect, OAuth form). */
  http: "h2" | "h1";
  /** The exact body bytes (a 5-byte-framed protobuf message for gRPC). */
  body: Buffer;
  /** Request headers besides `:method POST` (gRPC metadata included). */
  headers: Record<string, string>;
  /** For the grpc-js generator: the method and the request with proto field names. */
  grpc?: { method: string; request: Record<string, unknown> };
  /**
   * Smallest response body, bytes, of a successful call. gRPC answers failures with HTTP 200 and
   * a trailer, so h2load cannot tell them apart otherwise: a window whose average body is
   * smaller counts every call as an error.
   */
  minResponseBytes: number;
}

/** How long and how hard. */
export interface LoadShape {
  concurrency: number;
  /** HTTP/2 connections of h2load, the streams spread over them (default 1; HTTP/1.1 uses one per call in flight). */
  connections?: number;
  warmupSeconds: number;
  durationSeconds: number;
}

const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));
const AUTOCANNON = fileURLToPath(new URL("../node_modules/autocannon/autocannon.js", import.meta.url));

/** Whether h2load is on PATH (`apt-get install -y nghttp2-client` brings it). */
export function h2loadAvailable(): string | undefined {
  const probe = spawnSync("h2load", ["--version"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/** Runs one generator for a warm-up and a measured window. */
export function runGenerator(name: GeneratorName, spec: RequestSpec, shape: LoadShape, onMeasuring: () => void): Promise<LoadResult> {
  if (name === "grpc-js") return runGrpcJs(spec, shape, onMeasuring);
  if (name === "h2load") return runH2load(spec, shape, onMeasuring);
  return runAutocannon(spec, shape, onMeasuring);
}

/** Runs a command, calling `onLine` for each stdout line; rejects on a non-zero exit or after `timeoutSeconds`. */
function run(command: string, args: string[], timeoutSeconds: number, onLine: (line: string) => void = () => {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    createInterface({ input: child.stdout }).on("line", (line) => {
      stdout += `${line}\n`;
      onLine(line);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutSeconds * 1000);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} exited with ${code ?? signal}: ${stderr.trim() || stdout.slice(-2000)}`));
    });
  });
}

/** A bound on one generator run: its windows plus start-up slack. */
const timeoutOf = (shape: LoadShape) => shape.warmupSeconds + shape.durationSeconds + 60;

async function runGrpcJs(spec: RequestSpec, shape: LoadShape, onMeasuring: () => void): Promise<LoadResult> {
  if (!spec.grpc) throw new Error("grpc-js needs a gRPC request");
  const options: GrpcLoadOptions = {
    address: new URL(spec.base).host,
    method: spec.grpc.method,
    request: spec.grpc.request,
    metadata: Object.fromEntries(Object.entries(spec.headers).filter(([key]) => !["content-type", "te"].includes(key))),
    ...shape,
  };
  const stdout = await run(process.execPath, ["--import", "tsx", join(BENCH_DIR, "grpc-load.ts"), JSON.stringify(options)], timeoutOf(shape), (line) => {
    if (line === "measuring") onMeasuring();
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as LoadResult;
}

async function runH2load(spec: RequestSpec, shape: LoadShape, onMeasuring: () => void): Promise<LoadResult> {
  const dir = await mkdtemp(join(tmpdir(), "tessera-bench-h2load-"));
  try {
    const bodyFile = join(dir, "body");
    const logFile = join(dir, "log");
    await writeFile(bodyFile, spec.body);
    const connections = spec.http === "h2" ? (shape.connections ?? 1) : shape.concurrency;
    const streams = spec.http === "h2" ? Math.ceil(shape.concurrency / connections) : 1;
    const args = [
      ...(spec.http === "h1" ? ["--h1"] : []),
      "-t", "1", "-c", String(connections), "-m", String(streams),
      "-D", String(shape.durationSeconds), `--warm-up-time=${shape.warmupSeconds}`,
      "-d", bodyFile, `--log-file=${logFile}`,
      ...Object.entries(spec.headers).flatMap(([key, value]) => ["-H", `${key}: ${value}`]),
      `${spec.base}${spec.path}`,
    ];
    const stdout = await run("h2load", args, timeoutOf(shape), (line) => {
      if (line.startsWith("Warm-up phase is over")) onMeasuring();
    });
    // The log has one line per request of the measured window: start (us since epoch), status,
    // elapsed (us). Status 0: no response before h2load stopped (the streams in flight at the
    // edges of the window), neither a success nor a failure.
    const lines = (await readFile(logFile, "utf8")).split("\n").filter(Boolean);
    const ok: number[] = [];
    let unanswered = 0;
    for (const line of lines) {
      const [, status, elapsed] = line.split("\t");
      if (status === "200") ok.push(Number(elapsed));
      else if (status === "0") unanswered++;
    }
    ok.sort((a, b) => a - b);
    const failed = lines.length - ok.length - unanswered;
    const data = Number(stdout.match(/\(\d+\) headers[^,]*, [\d.]+\w*B \((\d+)\) data/)?.[1] ?? Number.NaN);
    const bodyBytes = ok.length > 0 ? data / ok.length : 0;
    const failedByBody = bodyBytes < spec.minResponseBytes;
    const tooManyUnanswered = unanswered > 2 * shape.concurrency;
    const firstError = failedByBody
      ? `responses average ${bodyBytes.toFixed(1)} body bytes, expected at least ${spec.minResponseBytes}: calls failed`
      : failed > 0
        ? `${failed} responses with a status other than 200`
        : tooManyUnanswered
          ? `${unanswered} requests unanswered when h2load stopped`
          : undefined;
    return {
      requests: failedByBody ? 0 : ok.length,
      errors: failedByBody ? ok.length + failed : failed + (tooManyUnanswered ? unanswered : 0),
      seconds: shape.durationSeconds, // h2load's -D: the log holds the requests of exactly that window
      p50Ms: percentile(ok, 0.5) / 1000,
      p99Ms: percentile(ok, 0.99) / 1000,
      ...(firstError !== undefined && { firstError }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** autocannon's `--json` result (the fields used here). */
interface AutocannonJson {
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  duration: number;
}

async function runAutocannon(spec: RequestSpec, shape: LoadShape, onMeasuring: () => void): Promise<LoadResult> {
  if (spec.http !== "h1") throw new Error("autocannon speaks HTTP/1.1 only");
  const dir = await mkdtemp(join(tmpdir(), "tessera-bench-autocannon-"));
  try {
    const bodyFile = join(dir, "body");
    await writeFile(bodyFile, spec.body);
    const args = (seconds: number) => [
      AUTOCANNON, "--json", "-n", "-c", String(shape.concurrency), "-d", String(seconds), "-m", "POST", "-i", bodyFile,
      ...Object.entries(spec.headers).flatMap(([key, value]) => ["-H", `${key}=${value}`]),
      `${spec.base}${spec.path}`,
    ];
    if (shape.warmupSeconds > 0) await run(process.execPath, args(shape.warmupSeconds), timeoutOf(shape));
    onMeasuring();
    const result = JSON.parse(await run(process.execPath, args(shape.durationSeconds), timeoutOf(shape))) as AutocannonJson;
    const errors = result.errors + result.timeouts + result.non2xx;
    return {
      requests: result["2xx"],
      errors,
      seconds: result.duration,
      // autocannon keeps latencies in whole milliseconds.
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      ...(errors > 0 && { firstError: `${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts` }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
