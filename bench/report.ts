/** The benchmark's results: their shape, the ratios to the baselines, the targets and the Markdown report. */
import type { CryptoFloor } from "./crypto-floor.js";
import type { GeneratorName } from "./generators.js";
import type { StorageCalls } from "./metrics.js";
import { summaryMarkdown, type ProfileSummary } from "./profile-summary.js";
import type { Operation, Protocol } from "./requests.js";
import { median } from "./stats.js";

/** Which server a window measured. */
export type TargetKind = "tessera" | "noop-connect" | "noop-grpc-js";

/** One measured window. */
export interface Measurement {
  target: TargetKind;
  /** `memory` or `mongodb` for Tessera. */
  storage?: "memory" | "mongodb";
  /** The seed's label, for Tessera. */
  seed?: string;
  /** `--workers N` of a Tessera started with it. */
  workers?: number;
  operation: Operation | "noop";
  protocol: Protocol;
  generator: GeneratorName;
  concurrency: number;
  /** HTTP/2 connections the calls were spread over, when more than one (h2load only). */
  connections?: number;
  /** False when the window could not run or had errors: its figures are not used in ratios. */
  ok: boolean;
  error?: string;
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Server process CPU (utime + stime, all threads) per request, microseconds. */
  serverCpuUs: number;
  /** The part of {@link serverCpuUs} spent on the main (JavaScript) thread; the rest is libuv's pool (WebCrypto, Argon2) and V8's helper threads (GC). */
  serverMainThreadCpuUs: number;
  /** FerretDB's CPU per request, microseconds (MongoDB storage only). */
  storageCpuUs?: number;
  /** Resident set size right after the window (VmRSS), MiB. */
  rssAfterMiB?: number;
  /** Storage calls per request in the window, from Tessera's `/metrics` (Tessera only, when it serves them). */
  storageCalls?: StorageCalls[];
  /** Peak RSS of the server process during the window (VmHWM after a reset), MiB. */
  peakRssMiB: number;
  /** Cores the load generator kept busy, on average over its whole run. */
  generatorCores: number;
  /** Cores busy with anything else on the machine during the window (approximate). */
  otherCores: number;
  /** Ratios to the baselines of the same run (see {@link addRatios}). */
  ratios?: Ratios;
}

/** A Tessera figure divided by its baseline's (same surface, generator and concurrency). */
export interface Ratios {
  /** ÷ the no-op method on Tessera's own stack (listen() + connectNodeAdapter). */
  noop?: { requestsPerSecond: number; p50: number; p99: number; cpu: number; rss: number };
  /** Server CPU ÷ (2 × crypto floor + no-op CPU on the same stack): the first target's budget. */
  cpuBudget?: number;
  /** Requests/s ÷ a plain @grpc/grpc-js server's no-op rate (gRPC only). */
  grpcJsRequestsPerSecond?: number;
  /** Server CPU ÷ the memory-storage figure of the same scenario (MongoDB only). */
  memoryCpu?: number;
  /** (Tessera + FerretDB CPU) ÷ the memory-storage figure (MongoDB only). */
  memoryCpuWithStorage?: number;
  /** Requests/s ÷ the same scenario's with one process (`--workers N` only). */
  oneProcessRequestsPerSecond?: number;
}

/** The same exchange with a small and a large seed, alternating windows. */
export interface ScaleComparison {
  storage: "memory" | "mongodb";
  protocol: Protocol;
  generator: GeneratorName;
  concurrency: number;
  small: ScaleSide;
  large: ScaleSide;
  /** Median CPU per exchange, large ÷ small. */
  cpuRatio: number;
  /** Median exchanges/s, large ÷ small. */
  requestsPerSecondRatio: number;
}

/** One seed's windows of a {@link ScaleComparison}. */
export interface ScaleSide {
  seed: string;
  startSeconds: number;
  rssAfterStartMiB: number;
  cpuUs: number[];
  requestsPerSecond: number[];
  p50Ms: number[];
}

/** One target of issue 7, as measured. */
export interface TargetCheck {
  target: string;
  scenario: string;
  measured: number;
  limit: string;
  met: boolean;
}

/** Everything one run measured: written to results/latest.json. */
export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  command: string;
  mode: "full" | "quick";
  settings: { warmupSeconds: number; durationSeconds: number; concurrency: number[]; scaleClients: number; scaleRounds: number; profileSeconds: number };
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; kernel: string; h2load?: string; loadAverageStart: number[]; loadAverageEnd: number[] };
  /** Other processes that used CPU during the run, and how much. */
  otherProcesses: { command: string; cpuSeconds: number; processes: number }[];
  cryptoFloor?: CryptoFloor;
  startups: { label: string; seconds: number; rssMiB: number }[];
  measurements: Measurement[];
  scale: ScaleComparison[];
  targets: TargetCheck[];
  /**
   * The first memory-storage server measured again at the end: per-exchange cost after it has kept
   * the audit events and token lineage of `served` calls (at least: warm-ups are not counted).
   */
  drift?: { storage: "memory"; scenario: string; served: number; first: Measurement; last: Measurement };
  /** CPU profiles (V8, main thread) of one exchange window each, and that window's figures. */
  profiles: { file: string; scenario: string; measurement: Measurement; summary: ProfileSummary }[];
  notes: string[];
}

const sameShape = (a: Measurement, b: Measurement) =>
  a.protocol === b.protocol && a.generator === b.generator && a.concurrency === b.concurrency && a.connections === b.connections;

/**
 * The no-op window a Tessera window is compared with: the same surface on the same server stack.
 * gRPC on `--grpc-port` is served by @grpc/grpc-js, so its stack is the plain grpc-js no-op server.
 */
function noopBaseline(ok: Measurement[], m: Measurement): Measurement | undefined {
  if (m.protocol === "grpc-port") return grpcJsBaseline(ok, m);
  return ok.find((b) => b.target === "noop-connect" && sameShape(b, m));
}

/** The plain grpc-js no-op window of the same generator and concurrency (gRPC on either port). */
function grpcJsBaseline(ok: Measurement[], m: Measurement): Measurement | undefined {
  if (m.protocol !== "grpc" && m.protocol !== "grpc-port") return undefined;
  return ok.find((b) => b.target === "noop-grpc-js" && b.generator === m.generator && b.concurrency === m.concurrency && b.connections === m.connections);
}

/** Fills in each Tessera measurement's {@link Ratios} from the baselines of the same run. */
export function addRatios(result: BenchResult): void {
  const ok = result.measurements.filter((m) => m.ok);
  const floor = result.cryptoFloor?.verifyPlusSignCpuUs;
  for (const m of ok) {
    if (m.target !== "tessera") continue;
    const ratios: Ratios = {};
    const noop = noopBaseline(ok, m);
    if (noop) {
      ratios.noop = {
        requestsPerSecond: m.requestsPerSecond / noop.requestsPerSecond,
        p50: m.p50Ms / noop.p50Ms,
        p99: m.p99Ms / noop.p99Ms,
        cpu: m.serverCpuUs / noop.serverCpuUs,
        rss: m.peakRssMiB / noop.peakRssMiB,
      };
      if (floor !== undefined && m.operation === "exchange") ratios.cpuBudget = m.serverCpuUs / (2 * floor + noop.serverCpuUs);
    }
    const grpcJs = grpcJsBaseline(ok, m);
    if (grpcJs) ratios.grpcJsRequestsPerSecond = m.requestsPerSecond / grpcJs.requestsPerSecond;
    if (m.workers !== undefined && m.workers > 1) {
      const one = ok.find((b) => b.target === "tessera" && (b.workers ?? 1) === 1 && b.storage === m.storage && b.seed === m.seed && b.operation === m.operation && sameShape(b, m));
      if (one) ratios.oneProcessRequestsPerSecond = m.requestsPerSecond / one.requestsPerSecond;
    } else if (m.storage === "mongodb") {
      const memory = ok.find((b) => b.target === "tessera" && b.storage === "memory" && b.workers === undefined && b.seed === m.seed && b.operation === m.operation && sameShape(b, m));
      if (memory) {
        ratios.memoryCpu = m.serverCpuUs / memory.serverCpuUs;
        ratios.memoryCpuWithStorage = (m.serverCpuUs + (m.storageCpuUs ?? 0)) / memory.serverCpuUs;
      }
    }
    m.ratios = ratios;
  }
}

/** The label of a measurement's scenario, e.g. `gRPC (h2load) c16`. */
export function scenarioLabel(m: Pick<Measurement, "protocol" | "generator" | "concurrency" | "connections">): string {
  const surface = { grpc: "gRPC", "grpc-port": "gRPC on --grpc-port", connect: "Connect", form: "OAuth form" }[m.protocol];
  return `${surface} (${m.generator}), c=${m.concurrency}${m.connections !== undefined ? ` over ${m.connections} connections` : ""}`;
}

/** Checks the four targets of issue 7 against the measurements. */
export function checkTargets(result: BenchResult): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const tessera = result.measurements.filter((m) => m.ok && m.target === "tessera" && m.operation === "exchange" && m.ratios);
  for (const m of tessera.filter((m) => m.storage === "memory" && m.ratios?.cpuBudget !== undefined)) {
    checks.push({ target: "server CPU per exchange ≤ 2 × crypto floor + no-op RPC CPU (same stack)", scenario: scenarioLabel(m), measured: m.ratios!.cpuBudget!, limit: "≤ 1.00", met: m.ratios!.cpuBudget! <= 1 });
  }
  for (const m of tessera.filter((m) => m.storage === "mongodb" && m.ratios?.memoryCpu !== undefined)) {
    checks.push({ target: "MongoDB CPU per exchange ≤ 1.3 × memory (Tessera process)", scenario: scenarioLabel(m), measured: m.ratios!.memoryCpu!, limit: "≤ 1.30", met: m.ratios!.memoryCpu! <= 1.3 });
  }
  for (const m of tessera.filter((m) => m.storage === "memory" && m.ratios?.grpcJsRequestsPerSecond !== undefined)) {
    const r = m.ratios!.grpcJsRequestsPerSecond!;
    checks.push({ target: "gRPC exchanges/s ≥ 0.5 × plain grpc-js no-op rate", scenario: scenarioLabel(m), measured: r, limit: "≥ 0.50", met: r >= 0.5 });
  }
  for (const m of tessera.filter((m) => m.ratios?.oneProcessRequestsPerSecond !== undefined)) {
    const r = m.ratios!.oneProcessRequestsPerSecond!;
    checks.push({ target: `--workers ${m.workers} exchanges/s > 1 process (${m.storage})`, scenario: scenarioLabel(m), measured: r, limit: "> 1.00", met: r > 1 });
  }
  for (const s of result.scale) {
    checks.push({
      target: `CPU per exchange flat (± 10 %) from ${s.small.seed} to ${s.large.seed}`,
      scenario: `${s.storage}, ${scenarioLabel(s)}`,
      measured: s.cpuRatio,
      limit: "0.90 – 1.10",
      met: Math.abs(s.cpuRatio - 1) <= 0.1,
    });
  }
  return checks;
}

/** Builds a {@link ScaleComparison} from its windows. */
export function scaleComparison(storage: "memory" | "mongodb", small: ScaleSide, large: ScaleSide, shape: Pick<Measurement, "protocol" | "generator" | "concurrency">): ScaleComparison {
  return {
    storage,
    ...shape,
    small,
    large,
    cpuRatio: median(large.cpuUs) / median(small.cpuUs),
    requestsPerSecondRatio: median(large.requestsPerSecond) / median(small.requestsPerSecond),
  };
}

const num = (value: number | undefined, digits = 0) =>
  value === undefined || !Number.isFinite(value) ? "–" : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? "–" : `${value.toFixed(2)}×`);
const ms = (value: number) => (Number.isFinite(value) ? (value < 10 ? value.toFixed(2) : value.toFixed(1)) : "–");
/** `memory`, `mongodb` or `mongodb, 2 workers`. */
const storageName = (x: Measurement) => `${x.storage}${x.workers !== undefined ? `, ${x.workers} worker${x.workers > 1 ? "s" : ""}` : ""}`;
const operationName = { exchange: "exchange", client_credentials: "client credentials", health: "grpc.health Check", noop: "no-op" } as const;

/** The Markdown report: baselines, scenarios with their ratios, targets, scale, profile, machine. */
export function markdownReport(result: BenchResult): string {
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  const m = result.machine;
  push(
    `# Tessera benchmark (${result.mode})`,
    "",
    `${result.startedAt} – ${result.finishedAt}. ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}` +
      `${m.h2load ? `, ${m.h2load}` : ", h2load absent"}. Load average at start ${m.loadAverageStart.map((x) => x.toFixed(2)).join(" ")}, at end ${m.loadAverageEnd.map((x) => x.toFixed(2)).join(" ")}.`,
    `Each window: ${result.settings.warmupSeconds} s warm-up, then ${result.settings.durationSeconds} s measured. Client and server share the machine's cores.`,
    `Command: \`${result.command}\``,
    "",
  );

  push("## Baselines (same run, same machine)", "");
  const floor = result.cryptoFloor;
  if (floor) {
    push(
      `**Crypto floor** (jose ${floor.algorithm}, one verify of the subject token + one sign of the new token, same headers and claims as Tessera's): ` +
        `**${num(floor.verifyPlusSignCpuUs)} CPU-µs** per pair, ${num(floor.verifyPlusSignPerCpuSecond)} pairs per CPU-second ` +
        `(${num(floor.signsPerCpuSecond)} signs or ${num(floor.verifiesPerCpuSecond)} verifies per CPU-second).` +
        (floor.nodeCryptoVerifyPlusSignCpuUs ? ` For reference, the same pair with node:crypto's one-shot sign/verify instead of WebCrypto (what Tessera uses for its own tokens): ${num(floor.nodeCryptoVerifyPlusSignCpuUs)} CPU-µs.` : ""),
      "",
    );
  }
  push("| server | surface (generator), concurrency | req/s | p50 ms | p99 ms | server CPU µs/req | main thread µs/req | peak RSS MiB | client cores | other cores |", "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
  const serverName = (x: Measurement) =>
    x.target === "noop-connect" ? "no-op, Tessera's stack" : x.target === "noop-grpc-js" ? "no-op, plain grpc-js" : `Tessera (${storageName(x)})`;
  const baselines = result.measurements.filter((x) => x.target !== "tessera");
  baselines.sort((a, b) => a.target.localeCompare(b.target) || a.concurrency - b.concurrency); // stable: surfaces stay in run order
  for (const x of baselines) push(`| ${serverName(x)} | ${scenarioLabel(x)} | ${row(x)} |`);
  push("");

  const tessera = result.measurements.filter((x) => x.target === "tessera");
  const seeds = [...new Set(tessera.map((x) => x.seed))].join("; ");
  push(
    "## Tessera",
    "",
    `Realm: ${seeds}. The gateway (client_secret_basic) exchanges a client-credentials token (scope orders.read) for audience=orders-api; a fresh subject token before each window.`,
    "",
    "| storage | request | surface (generator), concurrency | req/s | p50 ms | p99 ms | server CPU µs/req | main thread µs/req | peak RSS MiB | client cores | other cores | FerretDB CPU µs/req |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const x of tessera) push(`| ${storageName(x)} | ${operationName[x.operation]} | ${scenarioLabel(x)} | ${row(x)} | ${num(x.storageCpuUs)} |`);
  push(
    "",
    "### Ratios to the baselines of the same run",
    "",
    "÷ no-op: the same surface, generator and concurrency against the no-op method on Tessera's own stack (listen() + connectNodeAdapter). " +
      "CPU ÷ budget: server CPU ÷ (2 × crypto floor + no-op CPU), at most 1 meets the first target. " +
      "÷ grpc-js: req/s ÷ a plain @grpc/grpc-js server's no-op rate. ÷ memory: MongoDB ÷ memory storage, same scenario (Tessera alone, then with FerretDB's CPU added). " +
      "gRPC on --grpc-port is served by @grpc/grpc-js: its no-op baseline is the plain grpc-js server's. ÷ 1 process: `--workers N` req/s ÷ the same scenario with `--workers 1`.",
    "",
    "| storage | request | surface (generator), concurrency | req/s ÷ no-op | p50 ÷ no-op | p99 ÷ no-op | CPU ÷ no-op | CPU ÷ budget | RSS ÷ no-op | req/s ÷ grpc-js | CPU ÷ memory | (+ FerretDB) ÷ memory | req/s ÷ 1 process |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const x of tessera.filter((x) => x.ok)) {
    const r = x.ratios;
    push(
      `| ${storageName(x)} | ${operationName[x.operation]} | ${scenarioLabel(x)} | ${ratio(r?.noop?.requestsPerSecond)} | ${ratio(r?.noop?.p50)} | ${ratio(r?.noop?.p99)} | ` +
        `${ratio(r?.noop?.cpu)} | ${ratio(r?.cpuBudget)} | ${ratio(r?.noop?.rss)} | ${ratio(r?.grpcJsRequestsPerSecond)} | ${ratio(r?.memoryCpu)} | ${ratio(r?.memoryCpuWithStorage)} | ${ratio(r?.oneProcessRequestsPerSecond)} |`,
    );
  }
  const failed = result.measurements.filter((x) => !x.ok);
  if (failed.length > 0) {
    push("", "Failed windows (figures not used):", "", ...failed.map((x) => `- ${serverName(x)} ${operationName[x.operation]} ${scenarioLabel(x)}: ${x.error}`));
  }
  push("");

  const perExchange = ["memory", "mongodb"].map((storage) =>
    tessera.find((x) => x.ok && x.storage === storage && x.workers === undefined && x.operation === "exchange" && x.protocol === "grpc" && x.concurrency === 16 && x.storageCalls && x.generator === "h2load") ??
    tessera.find((x) => x.ok && x.storage === storage && x.workers === undefined && x.operation === "exchange" && x.protocol === "grpc" && x.storageCalls),
  );
  if (perExchange.some((x) => x?.storageCalls?.length)) {
    const operations = [...new Set(perExchange.flatMap((x) => x?.storageCalls?.map((c) => c.operation) ?? []))];
    const cell = (x: Measurement | undefined, operation: string) => {
      const c = x?.storageCalls?.find((s) => s.operation === operation);
      return c ? `${c.perRequest.toFixed(3)} | ${c.meanMs.toFixed(2)}` : "– | –";
    };
    const total = (x: Measurement | undefined) => (x?.storageCalls ? x.storageCalls.reduce((n, c) => n + c.perRequest, 0).toFixed(3) : "–");
    push(
      "### Storage calls per exchange",
      "",
      `From Tessera's own \`/metrics\` (\`tessera_storage_operation_duration_seconds\`) over the measured window: ${perExchange.map((x) => (x ? `${x.storage}: ${scenarioLabel(x)}` : "")).filter(Boolean).join("; ")}. Mean ms is the time awaited, not CPU.`,
      "",
      "| repository call | memory calls/exchange | memory mean ms | mongodb calls/exchange | mongodb mean ms |",
      "|---|--:|--:|--:|--:|",
      ...operations.map((op) => `| ${op} | ${cell(perExchange[0], op)} | ${cell(perExchange[1], op)} |`),
      `| **total** | ${total(perExchange[0])} | | ${total(perExchange[1])} | |`,
      "",
    );
  }

  push("## Targets", "", "| target | scenario | measured | limit | |", "|---|---|--:|--:|---|");
  for (const t of result.targets) push(`| ${t.target} | ${t.scenario} | ${t.measured.toFixed(2)} | ${t.limit} | ${t.met ? "met" : "**not met**"} |`);
  push("");

  if (result.scale.length > 0) {
    push(
      "## Scale: the same exchange with a small and a large realm",
      "",
      `Windows alternate small, large (${result.settings.scaleRounds} rounds); medians. Both sides are freshly started servers.`,
      "",
      "| storage | seed | start-up s | RSS after start MiB | exchanges/s (median) | CPU µs/exchange per window | median | large ÷ small |",
      "|---|---|--:|--:|--:|---|--:|--:|",
    );
    for (const s of result.scale) {
      for (const [side, ratioText] of [[s.small, ""], [s.large, ratio(s.cpuRatio)]] as const) {
        push(
          `| ${s.storage}, ${scenarioLabel(s)} | ${side.seed} | ${side.startSeconds.toFixed(1)} | ${num(side.rssAfterStartMiB)} | ${num(median(side.requestsPerSecond))} | ` +
            `${side.cpuUs.map((c) => num(c)).join(", ")} | ${num(median(side.cpuUs))} | ${ratioText} |`,
        );
      }
    }
    push("");
  }

  if (result.drift) {
    const { first, last, served, scenario } = result.drift;
    push(
      "## Drift: the same memory-storage server, first and last window",
      "",
      `${scenario}, after at least ${num(served)} calls served by that server (memory storage keeps every audit event and token lineage record).`,
      "",
      "| window | req/s | p50 ms | p99 ms | server CPU µs/req | main thread µs/req | RSS after MiB | other cores |",
      "|---|--:|--:|--:|--:|--:|--:|--:|",
      ...[["first", first], ["last", last]].map(([label, x]) => {
        const m = x as Measurement;
        return `| ${label as string} | ${num(m.requestsPerSecond)} | ${ms(m.p50Ms)} | ${ms(m.p99Ms)} | ${num(m.serverCpuUs)} | ${num(m.serverMainThreadCpuUs)} | ${num(m.rssAfterMiB)} | ${m.otherCores.toFixed(2)} |`;
      }),
      `| last ÷ first | ${ratio(last.requestsPerSecond / first.requestsPerSecond)} | ${ratio(last.p50Ms / first.p50Ms)} | ${ratio(last.p99Ms / first.p99Ms)} | ${ratio(last.serverCpuUs / first.serverCpuUs)} | ${ratio(last.serverMainThreadCpuUs / first.serverMainThreadCpuUs)} | ${ratio((last.rssAfterMiB ?? Number.NaN) / (first.rssAfterMiB ?? Number.NaN))} | |`,
      "",
    );
  }

  for (const p of result.profiles) {
    const x = p.measurement;
    push(
      `## Profile: ${p.scenario}`,
      "",
      `\`${p.file}\` (open it in Chrome DevTools or speedscope). The window: ${num(x.requestsPerSecond)} exchanges/s, ${num(x.serverCpuUs)} server CPU-µs per exchange, ` +
        `${num(x.serverMainThreadCpuUs)} of them on the main thread (the only thread V8 samples; Tessera's own signatures are on it, node:crypto one-shot calls). Profiling slows the server.`,
      "",
      summaryMarkdown(p.summary),
    );
  }

  push("## Start-ups", "", "| server | seconds to listening | RSS after start MiB |", "|---|--:|--:|");
  for (const s of result.startups) push(`| ${s.label} | ${s.seconds.toFixed(1)} | ${num(s.rssMiB)} |`);
  push("");
  push("## Context", "");
  if (result.otherProcesses.length > 0) {
    push("Other processes that used CPU during the run (CPU-seconds):", "", ...result.otherProcesses.map((p) => `- ${p.cpuSeconds.toFixed(1)} s: \`${p.command}\` (${p.processes} process${p.processes > 1 ? "es" : ""})`), "");
  } else push("No other process used 0.5 CPU-seconds or more during the run (short-lived ones show only in the per-window \"other cores\").", "");
  for (const note of result.notes) push(`- ${note}`);
  push("");
  return lines.join("\n");
}

function row(x: Measurement): string {
  if (!x.ok) return `failed | – | – | – | – | – | – | –`;
  return `${num(x.requestsPerSecond)} | ${ms(x.p50Ms)} | ${ms(x.p99Ms)} | ${num(x.serverCpuUs)} | ${num(x.serverMainThreadCpuUs)} | ${num(x.peakRssMiB)} | ${x.generatorCores.toFixed(2)} | ${x.otherCores.toFixed(2)}`;
}
