/** Starting and stopping the measured servers, each its own process. */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/support/ports.js";

/** A server process the benchmark started. */
export interface ServerProcess {
  label: string;
  pid: number;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** `http://127.0.0.1:PORT` of Tessera's `--grpc-port` (gRPC served by @grpc/grpc-js), when started with one. */
  grpcBase?: string;
  /** Seconds from spawn to ready. */
  startSeconds: number;
  /** SIGTERM, then SIGKILL after 15 s; resolves when it has exited. */
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const running = new Set<ChildProcess>();

/** Kills every server still running (on an unexpected exit of the benchmark). */
export function killAll(): void {
  for (const child of running) child.kill("SIGKILL");
}

/**
 * A build of Tessera to start: this checkout run by this node, or another (an older commit, run by
 * the runtime it targeted) for an A/B comparison.
 */
export interface TesseraBuild {
  /** The checkout, built (`npm ci` builds dist/). */
  root: string;
  /** The node binary that runs it. */
  node: string;
}

/** This checkout, run by the node running the benchmark. */
export const THIS_BUILD: TesseraBuild = { root: ROOT, node: process.execPath };

/** Spawns `args` with `node` in `cwd` and resolves once a stdout line matches `ready`. */
async function startNode(
  label: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  ready: RegExp,
  timeoutSeconds: number,
  { root, node }: TesseraBuild = THIS_BUILD,
): Promise<ServerProcess> {
  const started = process.hrtime.bigint();
  const child = spawn(node, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output = (output + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      running.delete(child);
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: not ready after ${timeoutSeconds} s\n${output}`)), timeoutSeconds * 1000);
    createInterface({ input: child.stdout }).on("line", (line) => {
      output = (output + line + "\n").slice(-4000);
      if (ready.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    child.kill("SIGKILL");
    await exited;
    throw error;
  });
  return { label, pid: child.pid!, base: `http://127.0.0.1:${port}`, startSeconds: Number(process.hrtime.bigint() - started) / 1e9, stop };
}

/** Storage of a Tessera process. */
export type StorageChoice = { kind: "memory" } | { kind: "mongodb"; uri: string; database: string };

/** How to start Tessera. */
export interface TesseraOptions {
  label: string;
  storage: StorageChoice;
  /** Realm files for `--import`. */
  files: string[];
  /** Write a V8 CPU profile into this directory when the process exits (`--cpu-prof`). */
  cpuProfileDir?: string;
  /** Bound on start-up (importing 100,000 clients takes tens of seconds). */
  timeoutSeconds?: number;
  /** Also serve gRPC through @grpc/grpc-js on a second port (`--grpc-port`). */
  grpcPort?: boolean;
  /** `--workers N` (MongoDB storage only). */
  workers?: number;
  /** Which build (default: this checkout). */
  build?: TesseraBuild;
}

/**
 * Starts `node <bin> serve --port P --import FILE... --log-level warn`, where bin is the build's
 * `tessera` command of its package.json (run `npm run build` first), with a fresh
 * `TESSERA_MASTER_KEY` and no other TESSERA_ or MONGODB_ variable.
 */
export async function startTessera(options: TesseraOptions): Promise<ServerProcess> {
  const build = options.build ?? THIS_BUILD;
  const entry = (JSON.parse(readFileSync(join(build.root, "package.json"), "utf8")) as { bin: { tessera: string } }).bin.tessera;
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(TESSERA_|MONGODB_|NODE_OPTIONS$)/.test(key)));
  env.TESSERA_MASTER_KEY = randomBytes(32).toString("base64");
  const storage =
    options.storage.kind === "memory"
      ? ["--storage", "memory"]
      : ["--storage", "mongodb", "--mongodb-uri", options.storage.uri, "--mongodb-database", options.storage.database];
  const profile = options.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  const grpcPort = options.grpcPort ? await freePort() : undefined;
  const args = [
    ...profile,
    entry,
    "serve",
    "--port",
    String(port),
    ...(grpcPort !== undefined ? ["--grpc-port", String(grpcPort)] : []),
    ...(options.workers !== undefined ? ["--workers", String(options.workers)] : []),
    ...storage,
    ...options.files.flatMap((f) => ["--import", f]),
    "--log-level",
    "warn",
  ];
  // The banner: a JSON log record on a pipe, or the text line of builds before `--log-format`.
  const server = await startNode(options.label, args, env, port, /^Tessera listening on |"msg":"Tessera listening"/, options.timeoutSeconds ?? 120, build);
  return grpcPort === undefined ? server : { ...server, grpcBase: `http://127.0.0.1:${grpcPort}` };
}

/** Starts a no-op server of bench/noop-servers.ts. */
export async function startNoop(kind: "connect" | "grpc-js", label: string): Promise<ServerProcess> {
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "NODE_OPTIONS"));
  return startNode(label, ["--import", "tsx", "bench/noop-servers.ts", kind, String(port)], env, port, /^listening /, 60);
}
