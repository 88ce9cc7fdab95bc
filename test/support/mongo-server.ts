import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MongoClient } from "mongodb";
import { freePort } from "./ports.js";

const run = promisify(execFile);

/** The FerretDB release the tests run against when no `MONGODB_URI` is given. */
export const FERRETDB_VERSION = "v1.24.2";

/**
 * Where a FerretDB built by {@link startMongoServer} is kept: outside the checkout, so that `npm ci`
 * (which empties node_modules) and a fresh clone keep it. `TESSERA_CACHE`, else
 * `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`: the same folder `.ci/run` keeps its Node runtime in.
 */
const BUILD_CACHE = join(
  process.env.TESSERA_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tessera"),
  "ferretdb",
);

/** A running MongoDB-compatible server. */
export interface MongoServer {
  /** Connection string without a database: callers pick their own `dbName`. */
  uri: string;
  /** Stops the server and removes its data (a no-op for an external `MONGODB_URI`). */
  stop(): Promise<void>;
  /**
   * Stops the server process, keeping its port and data, until {@link MongoServer.restart}; undefined for
   * an external `MONGODB_URI`, which tests cannot stop.
   */
  halt?(): Promise<void>;
  /** Starts the halted server again on the same port with the same data. */
  restart?(): Promise<void>;
}

/**
 * A real MongoDB-compatible server for integration tests.
 *
 * With `MONGODB_URI` set, that server is used as is. Otherwise FerretDB v1.24.2 starts on its SQLite
 * backend in a fresh temporary directory on a free 127.0.0.1 port, and this resolves once it answers
 * a ping. The binary is `$(go env GOPATH)/bin/ferretdb` when that one runs; else it is built once
 * from the Go module cache into `~/.cache/tessera/ferretdb/` (about a minute on a cold Go cache).
 */
export async function startMongoServer(): Promise<MongoServer> {
  const external = process.env.MONGODB_URI;
  if (external) return { uri: external, stop: async () => {} };

  const binary = await ferretDbBinary();
  const dir = await mkdtemp(join(tmpdir(), "tessera-ferretdb-"));
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        return await launch(binary, dir, port);
      } catch (error) {
        // Another process may have taken the port between freePort() and FerretDB's bind.
        if (attempt >= 3 || !String(error).includes("address already in use")) throw error;
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(binary: string, dir: string, port: number): Promise<MongoServer> {
  const uri = `mongodb://127.0.0.1:${port}/`;
  let running = await spawnFerretDb(binary, dir, port, uri);
  return {
    uri,
    stop: async () => {
      await running.halt();
      await rm(dir, { recursive: true, force: true });
    },
    halt: () => running.halt(),
    restart: async () => {
      await running.halt();
      running = await spawnFerretDb(binary, dir, port, uri);
    },
  };
}

/** Starts FerretDB and resolves once it answers a ping; `halt` stops it (SIGTERM, then SIGKILL). */
async function spawnFerretDb(binary: string, dir: string, port: number, uri: string): Promise<{ halt(): Promise<void> }> {
  const child = spawn(
    binary,
    [
      `--listen-addr=127.0.0.1:${port}`,
      "--handler=sqlite",
      `--sqlite-url=file:${dir}/`,
      `--state-dir=${dir}`,
      "--debug-addr=-", // no debug HTTP listener: two instances never clash on 8088
      "--telemetry=disable",
      "--log-level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const halt = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  };

  try {
    await waitForPing(uri, child, 30_000);
  } catch (error) {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
    throw new Error(`FerretDB did not start on 127.0.0.1:${port}: ${String(error)}\n--- stderr ---\n${stderr}`);
  }
  return { halt };
}

async function waitForPing(uri: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`FerretDB exited (${child.exitCode ?? child.signalCode})`);
    }
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
    try {
      await client.db("admin").command({ ping: 1 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    } finally {
      await client.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}


async function runs(binary: string): Promise<boolean> {
  if (!existsSync(binary)) return false;
  try {
    const { stdout } = await run(binary, ["--version"], { timeout: 10_000 });
    return stdout.includes(`version: ${FERRETDB_VERSION}`);
  } catch {
    return false; // e.g. a `go install` build that panics on a missing version.txt
  }
}

/**
 * Finds a working FerretDB binary, building one if needed.
 *
 * `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` produces a binary that panics at
 * start ("Invalid build/version/version.txt file content"): the module zip lacks the generated
 * `build/version/version.txt`. So the build copies the module source, writes that file, and runs
 * `go build` there.
 */
async function ferretDbBinary(): Promise<string> {
  const fromEnv = process.env.FERRETDB_BIN;
  if (fromEnv) return fromEnv;
  const go = async (...args: string[]) => (await run("go", args, { maxBuffer: 1 << 24 })).stdout.trim();

  let gopath: string;
  try {
    gopath = await go("env", "GOPATH");
  } catch {
    throw new Error("neither MONGODB_URI nor Go is available: set MONGODB_URI or install Go to build FerretDB");
  }
  const installed = join(gopath, "bin", "ferretdb");
  if (await runs(installed)) return installed;
  const cached = join(BUILD_CACHE, `ferretdb-${FERRETDB_VERSION}`);
  if (await runs(cached)) return cached;

  process.stderr.write(`FerretDB ${FERRETDB_VERSION} not found: building it with Go (about a minute)...\n`);
  const download = await go("mod", "download", "-json", `github.com/FerretDB/FerretDB@${FERRETDB_VERSION}`);
  const { Dir: moduleDir } = JSON.parse(download) as { Dir: string };
  const source = await mkdtemp(join(tmpdir(), "tessera-ferretdb-src-"));
  try {
    await cp(moduleDir, source, { recursive: true });
    await run("chmod", ["-R", "u+w", source]);
    await writeFile(join(source, "build", "version", "version.txt"), `${FERRETDB_VERSION}\n`);
    await mkdir(BUILD_CACHE, { recursive: true });
    const partial = `${cached}.${process.pid}.tmp`;
    await run("go", ["build", "-o", partial, "./cmd/ferretdb"], { cwd: source, maxBuffer: 1 << 24 });
    await rename(partial, cached); // atomic: parallel test files never run a half-written binary
  } finally {
    await rm(source, { recursive: true, force: true });
  }
  return cached;
}
