/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): self time grouped by package or module, and
 * the top functions by self time.
 *
 *   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top 25] [--from-us T --to-us T]
 *
 * `--from-us`/`--to-us` keep only the samples of that window (monotonic clock, microseconds).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** One node of a `.cpuprofile` call tree (only the fields used here). */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The `.cpuprofile` format that `node --cpu-prof` writes. */
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one group or function. */
export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time, 0..1. */
  share: number;
}

/** What {@link summarizeProfile} finds. */
export interface ProfileSummary {
  /** Sampled time, ms, idle included. */
  totalMs: number;
  /** Sampled time not idle, ms. */
  busyMs: number;
  groups: SelfTime[];
  functions: SelfTime[];
  /**
   * Each sample charged to the innermost Tessera function (src/) on its stack: that function's
   * own time plus the library and runtime code it called. Samples with no Tessera frame on the
   * stack (the server stack, GC, the event loop) are charged to their package, in parentheses.
   */
  tesseraCallers: SelfTime[];
}

/**
 * The group a script URL belongs to: `pkg` (or `@scope/pkg`) for node_modules, `tessera:src/dir`
 * or `tessera:gen` for the project's code, `node:module` for Node's own, or the V8 pseudo-frame
 * (`(garbage collector)`, `(program)`) when there is no URL.
 */
export function groupOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native/V8 builtins)";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const inModules = path.lastIndexOf("/node_modules/");
  if (inModules >= 0) {
    const [first, second] = path.slice(inModules + "/node_modules/".length).split("/");
    return first.startsWith("@") ? `${first}/${second}` : first;
  }
  if (path.startsWith("node:")) {
    const [, module] = path.split(":");
    return `node:${module.replace(/^internal\//, "internal/").split("/").slice(0, 2).join("/")}`;
  }
  const project = path.match(/\/(src|gen|bench)\/(.*)$/);
  if (project) {
    const [, root, rest] = project;
    if (root === "src") return `tessera:src/${rest.includes("/") ? rest.split("/")[0] : rest.replace(/\.[jt]s$/, "")}`;
    return `tessera:${root}`;
  }
  return path;
}

/** A time window in microseconds of the monotonic clock (`process.hrtime`), which V8's profile timestamps use on Linux. */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

/**
 * Reads a profile and adds up self time per group and per function; with `window`, only the
 * samples taken inside it (e.g. a measured window, without start-up and shutdown).
 */
export function summarizeProfile(profile: CpuProfile, top = 25, window?: ProfileWindow): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });

  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const callerOf = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (groupOf(frame.url, frame.functionName).startsWith("tessera:src/")) return `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    }
    const { url, functionName } = byId.get(id)!.callFrame;
    return `(no Tessera frame: ${groupOf(url, functionName)})`;
  };
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  const callers = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    totalUs += us;
    if (functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const group = groupOf(url, functionName);
    groups.set(group, (groups.get(group) ?? 0) + us);
    const where = url === "" ? "" : ` ${shortUrl(url)}:${lineNumber + 1}`;
    const fn = `${functionName || "(anonymous)"}${where}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
    const caller = callerOf(id);
    callers.set(caller, (callers.get(caller) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const rank = (map: Map<string, number>): SelfTime[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
  return { totalMs: totalUs / 1000, busyMs: busyUs / 1000, groups: rank(groups), functions: rank(functions), tesseraCallers: rank(callers) };
}

/** The tail of a URL that says where a function is: `pkg/file.js` or `src/dir/file.js`. */
function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, "");
  const inModules = path.lastIndexOf("/node_modules/");
  if (inModules >= 0) return path.slice(inModules + "/node_modules/".length);
  const project = path.match(/\/((?:src|gen|bench)\/.*)$/);
  return project ? project[1] : path;
}

/** The summary as two Markdown tables. */
export function summaryMarkdown(summary: ProfileSummary): string {
  const row = (t: SelfTime) => `| ${t.name.replaceAll("|", "\\|")} | ${t.ms.toFixed(0)} | ${(t.share * 100).toFixed(1)}% |`;
  return [
    `Sampled ${(summary.totalMs / 1000).toFixed(1)} s, of which busy (not idle) ${(summary.busyMs / 1000).toFixed(1)} s.`,
    "",
    "| self time by package / module | ms | share of busy |",
    "|---|---:|---:|",
    ...summary.groups.map(row),
    "",
    "| top functions by self time | ms | share of busy |",
    "|---|---:|---:|",
    ...summary.functions.map(row),
    "",
    "Each sample charged to the innermost Tessera function on its stack (its own time + what it calls synchronously). " +
      "Code resumed after an `await` has no caller on V8's stack, so such samples count as \"no Tessera frame\" with their package.",
    "",
    "| innermost Tessera function on the stack | ms | share of busy |",
    "|---|---:|---:|",
    ...summary.tesseraCallers.map(row),
    "",
  ].join("\n");
}

/** Loads a `.cpuprofile` file and summarizes it (see {@link summarizeProfile}). */
export async function summarizeProfileFile(path: string, top = 25, window?: ProfileWindow): Promise<ProfileSummary> {
  return summarizeProfile(JSON.parse(await readFile(path, "utf8")) as CpuProfile, top, window);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string" }, "from-us": { type: "string" }, "to-us": { type: "string" } },
  });
  if (positionals.length !== 1) {
    process.stderr.write("usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N] [--from-us T --to-us T]\n");
    process.exit(2);
  }
  const window = values["from-us"] && values["to-us"] ? { fromUs: Number(values["from-us"]), toUs: Number(values["to-us"]) } : undefined;
  process.stdout.write(summaryMarkdown(await summarizeProfileFile(positionals[0], Number(values.top ?? 25), window)));
}
