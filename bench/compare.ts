/**
 * Two builds of Tessera side by side in one run: a baseline (another checkout, e.g. an older
 * commit, run by the node it targeted) and this checkout, both with memory storage and the same
 * seed, windows alternating (A B, B A, ...) for each surface, rounds repeated; medians and
 * ratios this / baseline. Writes results/compare.json and results/compare.md. See bench/README.md.
 *
 *   npm run bench:compare -- --baseline ../old-checkout --baseline-node /usr/bin/node
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { h2loadAvailable, type GeneratorName } from "./generators.js";
import { writeSeed } from "./realm.js";
import type { Measurement } from "./report.js";
import type { Protocol } from "./requests.js";
import { killAll, startTessera, THIS_BUILD, type ServerProcess, type TesseraBuild } from "./servers.js";
import { median } from "./stats.js";
import { log, measure, type Target, type WindowShape } from "./window.js";

const BENCH = fileURLToPath(new URL(".", import.meta.url));

const USAGE = `Usage: npm run bench:compare -- --baseline DIR [OPTIONS]

  --baseline DIR          the other checkout, built (npm ci there builds dist/)
  --baseline-node PATH    the node that runs it (default: this one)
  --rounds N              alternations per surface (default 3)
  --duration S            measured seconds per window (default 4)
  --warmup S              warm-up seconds per window (default 2)
  --concurrency C         calls in flight (default 16)
  --out DIR               results directory (default bench/results)
`;

/** One surface and the generator that drives it. */
type Surface = [Protocol, GeneratorName];

/** The figures of one side for one surface: medians over the rounds. */
interface Side {
  label: string;
  node: string;
  requestsPerSecond: number;
  serverCpuUs: number;
  p50Ms: number;
  windows: number;
}

/** What the comparison writes. */
interface Comparison {
  startedAt: string;
  command: string;
  settings: WindowShape & { rounds: number; concurrency: number };
  machine: { cpu: string; cores: number };
  surfaces: { surface: string; baseline: Side; current: Side; throughputRatio: number; cpuRatio: number }[];
  measurements: Measurement[];
}

function parseSettings(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      baseline: { type: "string" },
      "baseline-node": { type: "string" },
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      concurrency: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (!values.baseline) throw new Error("--baseline DIR is required (see --help)");
  const number = (text: string | undefined, fallback: number, name: string) => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a whole number from 1, got ${text}`);
    return n;
  };
  const root = resolve(values.baseline);
  if (!existsSync(join(root, "package.json"))) throw new Error(`--baseline ${values.baseline}: no package.json there`);
  return {
    baseline: { root, node: values["baseline-node"] ?? process.execPath } satisfies TesseraBuild,
    rounds: number(values.rounds, 3, "rounds"),
    shape: { warmupSeconds: number(values.warmup, 2, "warmup"), durationSeconds: number(values.duration, 4, "duration") },
    concurrency: number(values.concurrency, 16, "concurrency"),
    out: values.out ?? join(BENCH, "results"),
  };
}

const nodeVersion = (node: string): string => execFileSync(node, ["--version"], { encoding: "utf8" }).trim();

/** The medians of one side's successful windows. */
function sideOf(server: ServerProcess, node: string, windows: Measurement[]): Side {
  const ok = windows.filter((m) => m.ok);
  return {
    label: server.label,
    node: nodeVersion(node),
    requestsPerSecond: median(ok.map((m) => m.requestsPerSecond)),
    serverCpuUs: median(ok.map((m) => m.serverCpuUs)),
    p50Ms: median(ok.map((m) => m.p50Ms)),
    windows: ok.length,
  };
}

function markdown(result: Comparison): string {
  const rows = result.surfaces.map(
    ({ surface, baseline: a, current: b, throughputRatio, cpuRatio }) =>
      `| ${surface} | ${a.requestsPerSecond.toFixed(0)} | ${b.requestsPerSecond.toFixed(0)} | **${throughputRatio.toFixed(2)}** | ` +
      `${a.serverCpuUs.toFixed(0)} | ${b.serverCpuUs.toFixed(0)} | **${cpuRatio.toFixed(2)}** | ${a.p50Ms.toFixed(2)} / ${b.p50Ms.toFixed(2)} |`,
  );
  const [first] = result.surfaces;
  return [
    `# Tessera: two builds side by side`,
    "",
    `${result.startedAt}, \`${result.command}\`, ${result.machine.cores} cores (${result.machine.cpu}).`,
    first ? `Baseline: ${first.baseline.label} on Node ${first.baseline.node}; this build: ${first.current.label} on Node ${first.current.node}.` : "",
    `Token exchange (memory storage), concurrency ${result.settings.concurrency}, ${result.settings.rounds} rounds of ` +
      `${result.settings.warmupSeconds} s warm-up + ${result.settings.durationSeconds} s measured per window, windows alternating A B, B A; medians.`,
    "",
    "| surface | baseline req/s | this req/s | throughput this / baseline | baseline CPU-µs/req | this CPU-µs/req | CPU this / baseline | p50 ms baseline / this |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const startedAt = new Date();
  const h2load = h2loadAvailable();
  const http: GeneratorName = h2load ? "h2load" : "autocannon";
  const surfaces: Surface[] = [["grpc", "grpc-js"], ["grpc-port", "grpc-js"], ["connect", http], ["form", http]];
  const work = await mkdtemp(join(os.tmpdir(), "tessera-compare-"));
  const servers: ServerProcess[] = [];
  try {
    const seed = await writeSeed(work, { clients: 10, users: 10 }, 0);
    const start = async (label: string, build: TesseraBuild) => {
      const server = await startTessera({ label, storage: { kind: "memory" }, files: seed.files, grpcPort: true, build });
      servers.push(server);
      log(`${label} ready in ${server.startSeconds.toFixed(1)} s (pid ${server.pid})`);
      return server;
    };
    const baseline = await start(`baseline (${settings.baseline.root})`, settings.baseline);
    const current = await start("this build", THIS_BUILD);
    const targets: Target[] = [baseline, current].map((server) => ({ kind: "tessera", server, storage: "memory", seed }));
    const measurements: Measurement[] = [];
    const result: Comparison = {
      startedAt: startedAt.toISOString(),
      command: `npm run bench:compare -- ${process.argv.slice(2).join(" ")}`,
      settings: { ...settings.shape, rounds: settings.rounds, concurrency: settings.concurrency },
      machine: { cpu: os.cpus()[0]?.model.trim() ?? "unknown", cores: os.availableParallelism() },
      surfaces: [],
      measurements,
    };
    for (const [protocol, generator] of surfaces) {
      const windows: Measurement[][] = [[], []];
      for (let round = 0; round < settings.rounds; round++) {
        // A B, then B A: a drift of the machine's load within a round is billed to both sides alike.
        for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
          const m = await measure(targets[i], "exchange", protocol, generator, settings.concurrency, settings.shape);
          windows[i].push(m);
          measurements.push(m);
        }
      }
      const [a, b] = [sideOf(baseline, settings.baseline.node, windows[0]), sideOf(current, THIS_BUILD.node, windows[1])];
      result.surfaces.push({ surface: `${protocol} (${generator})`, baseline: a, current: b, throughputRatio: b.requestsPerSecond / a.requestsPerSecond, cpuRatio: b.serverCpuUs / a.serverCpuUs });
    }
    await mkdir(settings.out, { recursive: true });
    await writeFile(join(settings.out, "compare.json"), `${JSON.stringify(result, null, 2)}\n`);
    const text = markdown(result);
    await writeFile(join(settings.out, "compare.md"), text);
    process.stdout.write(text);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  killAll();
  process.stderr.write(`bench:compare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
