/**
 * One measured window against one server: a fresh subject token, one checked call, the load
 * generator's warm-up and measured window, CPU and memory of the server read at its edges.
 */
import { runGenerator, type GeneratorName, type LoadShape } from "./generators.js";
import { scrapeMetrics, storageCallsPerRequest, type MetricsSample } from "./metrics.js";
import {
  cpuSeconds,
  machineCpuSeconds,
  mainThreadCpuSeconds,
  ownCpuSeconds,
  peakRssMiB,
  processTreeCpuSeconds,
  reapedChildrenCpuSeconds,
  rssMiB,
  resetPeakRss,
} from "./proc.js";
import type { Seed } from "./realm.js";
import type { Measurement, TargetKind } from "./report.js";
import { gatewayToken, probe, requestSpec, type Operation, type Protocol } from "./requests.js";
import type { ServerProcess } from "./servers.js";

/** A server under measurement. */
export interface Target {
  kind: TargetKind;
  server: ServerProcess;
  storage?: "memory" | "mongodb";
  seed?: Seed;
  /** FerretDB's pid, whose CPU is read alongside. */
  storagePid?: number;
  /** Started with `--workers N`: its CPU is the primary's plus its workers'. */
  workers?: number;
  /** A no-op server's subject token: one of the same shape as Tessera's, which it never looks at. */
  sampleToken?: string;
}

/** Warm-up and measured seconds of a window. */
export interface WindowShape {
  warmupSeconds: number;
  durationSeconds: number;
}

/** One progress line on stderr, with the time. */
export const log = (text: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/** CPU counters read at the edges of a measured window. */
function snapshot(target: Target) {
  return {
    at: Number(process.hrtime.bigint()) / 1e9,
    server: target.workers !== undefined ? processTreeCpuSeconds(target.server.pid) : cpuSeconds(target.server.pid),
    // With workers, JavaScript runs on each worker's main thread: no one thread to read.
    serverMain: target.workers !== undefined ? Number.NaN : mainThreadCpuSeconds(target.server.pid),
    storage: target.storagePid ? cpuSeconds(target.storagePid) : 0,
    machine: machineCpuSeconds().busy,
    own: ownCpuSeconds(),
  };
}

/** The measured window of the last {@link measure}, in monotonic microseconds (to cut the CPU profile to it). */
let lastWindowUs = { fromUs: 0, toUs: 0 };

/** The measured window of the last {@link measure}, in monotonic microseconds. */
export const lastWindow = (): { fromUs: number; toUs: number } => lastWindowUs;

/** Servers that have had their first (longer) warm-up. */
const warmed = new Set<number>();

/**
 * Waits (at most 20 s) until the server and its storage use less than a tenth of a core: the
 * backlog of the previous window must not be billed to the next one.
 */
async function settle(target: Target): Promise<void> {
  const busy = () => cpuSeconds(target.server.pid) + (target.storagePid ? cpuSeconds(target.storagePid) : 0);
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const before = busy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (busy() - before < 0.03) return;
  }
}

/**
 * Measures one window: a fresh subject token, one checked call, a reset of the peak RSS, the
 * generator's warm-up, then CPU read before and after the measured window.
 */
export async function measure(
  target: Target,
  operation: Operation,
  protocol: Protocol,
  generator: GeneratorName,
  concurrency: number,
  shape: WindowShape,
  connections?: number,
): Promise<Measurement> {
  const base: Measurement = {
    target: target.kind,
    ...(target.storage && { storage: target.storage }),
    ...(target.seed && { seed: target.seed.label }),
    ...(target.workers !== undefined && { workers: target.workers }),
    operation: target.kind === "tessera" ? operation : "noop",
    protocol,
    generator,
    concurrency,
    ...(connections !== undefined && { connections }),
    ok: false,
    requests: 0,
    errors: 0,
    seconds: 0,
    requestsPerSecond: Number.NaN,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    serverCpuUs: Number.NaN,
    serverMainThreadCpuUs: Number.NaN,
    peakRssMiB: Number.NaN,
    generatorCores: Number.NaN,
    otherCores: Number.NaN,
  };
  const what = `${target.server.label}: ${base.operation} ${protocol} (${generator}) c${concurrency}`;
  try {
    await settle(target);
    const token = operation !== "exchange" ? "" : target.kind === "tessera" ? await gatewayToken(target.server.base) : (target.sampleToken ?? "");
    const request = requestSpec(operation, protocol, serverBase(target, protocol), token);
    const checked = await probe(request);
    if (!checked.ok) throw new Error(`check call failed: ${checked.detail}`);
    const spec = { ...request, minResponseBytes: Math.max(1, Math.floor(checked.bodyBytes / 2)) };
    // A server's first window warms up longer: JIT, connection pools, caches.
    const first = !warmed.has(target.server.pid);
    warmed.add(target.server.pid);
    const loadShape: LoadShape = { concurrency, connections, ...shape, ...(first && { warmupSeconds: Math.max(3, 2 * shape.warmupSeconds) }) };
    resetPeakRss(target.server.pid);
    const reaped = reapedChildrenCpuSeconds();
    const started = Number(process.hrtime.bigint()) / 1e9;
    const scraped = target.kind === "tessera" && target.workers === undefined;
    let before: ReturnType<typeof snapshot> | undefined;
    let metricsBefore: Promise<MetricsSample | undefined> = Promise.resolve(undefined);
    const result = await runGenerator(generator, spec, loadShape, () => {
      before = snapshot(target);
      // Tessera's own counters (storage calls per request): one scrape inside the window costs ~1 ms.
      // (With workers, each scrape reaches one worker's counters: not scraped.)
      if (scraped) metricsBefore = scrapeMetrics(target.server.base);
    });
    const after = snapshot(target);
    const [metricsStart, metricsEnd] = await Promise.all([metricsBefore, scraped ? scrapeMetrics(target.server.base) : undefined]);
    if (!before) throw new Error("the generator never started its measured window");
    lastWindowUs = { fromUs: before.at * 1e6, toUs: after.at * 1e6 };
    const generatorCores = (reapedChildrenCpuSeconds() - reaped) / (after.at - started);
    const wall = after.at - before.at;
    const server = after.server - before.server;
    const storage = after.storage - before.storage;
    const calls = result.requests + result.errors;
    const measurement: Measurement = {
      ...base,
      ok: result.requests > 0 && result.errors === 0,
      ...(result.firstError !== undefined && { error: result.firstError }),
      requests: result.requests,
      errors: result.errors,
      seconds: result.seconds,
      requestsPerSecond: result.requests / result.seconds,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      serverCpuUs: calls > 0 ? (server / calls) * 1e6 : Number.NaN,
      serverMainThreadCpuUs: calls > 0 ? ((after.serverMain - before.serverMain) / calls) * 1e6 : Number.NaN,
      ...(target.storagePid && { storageCpuUs: calls > 0 ? (storage / calls) * 1e6 : Number.NaN }),
      peakRssMiB: peakRssMiB(target.server.pid),
      rssAfterMiB: rssMiB(target.server.pid),
      ...(metricsStart && metricsEnd && { storageCalls: storageCallsPerRequest(metricsStart, metricsEnd) }),
      generatorCores,
      otherCores: Math.max(0, (after.machine - before.machine - server - storage - (after.own - before.own)) / wall - generatorCores),
    };
    log(
      `${what}: ${measurement.requestsPerSecond.toFixed(0)} req/s, p50 ${measurement.p50Ms.toFixed(2)} ms, p99 ${measurement.p99Ms.toFixed(2)} ms, ` +
        `${measurement.serverCpuUs.toFixed(0)} CPU-µs/req${measurement.ok ? "" : `, FAILED: ${measurement.error ?? `${result.errors} errors`}`}`,
    );
    return measurement;
  } catch (error) {
    log(`${what}: FAILED: ${String(error)}`);
    return { ...base, error: String(error instanceof Error ? error.message : error).slice(0, 500) };
  }
}

/** Where `protocol` is served: gRPC on `--grpc-port` has its own port. */
export function serverBase(target: Target, protocol: Protocol): string {
  if (protocol !== "grpc-port") return target.server.base;
  if (!target.server.grpcBase) throw new Error(`${target.server.label} has no --grpc-port`);
  return target.server.grpcBase;
}

