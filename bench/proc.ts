/** What the benchmark reads from Linux's /proc: CPU time and peak memory of processes. */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";

/** Clock ticks per second of the times in /proc/PID/stat. */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/PID/stat after the command name, so that index 0 is field 3 (`state`). */
function statFields(pid: number | "self"): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU seconds (user + system, all threads) a process has used so far: utime + stime of /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Pids of a process's running children (field 4 of /proc/PID/stat is the parent's pid). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** {@link cpuSeconds} of a process plus its running children's: a `--workers` primary and its workers. */
export function processTreeCpuSeconds(pid: number): number {
  return childrenOf(pid).reduce((sum, child) => sum + cpuSeconds(child), cpuSeconds(pid));
}

/**
 * CPU seconds of this process's children that have exited and been waited for (cutime + cstime):
 * the difference across one load-generator run is that generator's CPU.
 */
export function reapedChildrenCpuSeconds(): number {
  const fields = statFields("self");
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

/** CPU seconds of this process itself. */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** Busy and total CPU seconds of the whole machine, all cores (first line of /proc/stat). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const [, ...values] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / TICKS_PER_SECOND, total: (busy + idle + iowait) / TICKS_PER_SECOND };
}

/** A `VmHWM`/`VmRSS` line of /proc/PID/status in MiB. */
function statusMiB(pid: number, key: "VmHWM" | "VmRSS"): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${key}:`));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : Number.NaN;
}

/** Resident set size of a process now (VmRSS), MiB. */
export function rssMiB(pid: number): number {
  return statusMiB(pid, "VmRSS");
}

/** Peak resident set size of a process (VmHWM), MiB. */
export function peakRssMiB(pid: number): number {
  return statusMiB(pid, "VmHWM");
}

/**
 * Resets a process's peak RSS to its current RSS (writing 5 to /proc/PID/clear_refs, Linux 4.0+,
 * needs the right to ptrace it), so the next {@link peakRssMiB} is the peak of one window.
 * Returns false where that is refused: the peak is then the process's lifetime peak.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** The pid of a running process whose command line contains every one of `parts`, if any. */
export function findProcess(parts: string[]): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (parts.every((part) => cmdline.includes(part))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** CPU seconds of a process's main thread (its thread id is its pid): where its JavaScript runs. */
export function mainThreadCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * Watches the other processes of the machine while the benchmark runs: every `intervalMs` it
 * reads each process's CPU time, so that processes which start and end during the run (another
 * engineer's test run) are seen too. Processes of this benchmark (this process and its
 * descendants) are left out.
 */
export class OtherProcessWatcher {
  readonly #seen = new Map<number, { command: string; first: number; last: number }>();
  readonly #ours = new Set<number>([process.pid]);
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 1000) {
    this.#poll(true);
    this.#timer = setInterval(() => this.#poll(false), intervalMs);
    this.#timer.unref();
  }

  #poll(initial: boolean): void {
    const table: { pid: number; ppid: number; cpu: number; command: string }[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const fields = statFields(Number(entry));
        const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim();
        table.push({ pid: Number(entry), ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND, command });
      } catch {
        // gone meanwhile
      }
    }
    for (let grew = true; grew; ) {
      grew = false;
      for (const p of table) {
        if (!this.#ours.has(p.pid) && this.#ours.has(p.ppid)) {
          this.#ours.add(p.pid);
          grew = true;
        }
      }
    }
    for (const p of table) {
      if (this.#ours.has(p.pid) || p.command === "") continue;
      const known = this.#seen.get(p.pid);
      if (known) known.last = p.cpu;
      else this.#seen.set(p.pid, { command: p.command, first: initial ? p.cpu : 0, last: p.cpu });
    }
  }

  /** Stops watching; the busiest other commands by CPU seconds used during the run. */
  stop(limit = 8): { command: string; cpuSeconds: number; processes: number }[] {
    clearInterval(this.#timer);
    this.#poll(false);
    const byCommand = new Map<string, { cpuSeconds: number; processes: number }>();
    for (const p of this.#seen.values()) {
      const used = p.last - p.first;
      if (used <= 0) continue;
      // Group by the program and its first argument (`node --test`, `ferretdb`...).
      const key = p.command.replace(/\s+--env\s+\{.*$/, "").split(/\s+/).slice(0, 3).join(" ").slice(0, 100);
      const entry = byCommand.get(key) ?? { cpuSeconds: 0, processes: 0 };
      entry.cpuSeconds += used;
      entry.processes += 1;
      byCommand.set(key, entry);
    }
    return [...byCommand]
      .map(([command, v]) => ({ command, ...v }))
      .filter((p) => p.cpuSeconds >= 0.5)
      .sort((a, b) => b.cpuSeconds - a.cpuSeconds)
      .slice(0, limit);
  }
}
