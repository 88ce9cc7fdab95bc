/**
 * The `--workers` pool as the primary runs it (src/workers.ts), with stand-in workers
 * (test/support/fixtures/pool-worker.mjs) that listen or fail on demand.
 */
import assert from "node:assert/strict";
import cluster from "node:cluster";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createLogger } from "../../src/ops/logger.js";
import { WorkerStartError, startWorkers } from "../../src/server/workers.js";
import { eventually } from "../ops/support.js";

const WORKER = fileURLToPath(new URL("../support/fixtures/pool-worker.mjs", import.meta.url));

/** A mode file the stand-in workers read when they start, and a logger that keeps its lines. */
async function setUp(mode: "ok" | "fail") {
  const modeFile = join(await mkdtemp(join(tmpdir(), "tessera-pool-")), "mode");
  await writeFile(modeFile, mode);
  process.env.POOL_WORKER_MODE = modeFile;
  cluster.setupPrimary({ exec: WORKER, execArgv: [], silent: true });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { setMode: (next: "ok" | "fail") => writeFile(modeFile, next), lines, log: createLogger({ destination: sink }) };
}

describe("the --workers pool", () => {
  it("a worker that exits before the pool has started then the start fails with its exit code and the others are stopped", async () => {
    const { log, lines } = await setUp("fail");
    const pool = startWorkers(2, log);
    await assert.rejects(pool.listening, (error: unknown) => error instanceof WorkerStartError && error.code === 2);
    await eventually("every worker gone", async () => Object.keys(cluster.workers ?? {}).length === 0);
    assert.ok(lines.some((l) => l.msg === "worker exited before it listened; stopping"));
  });

  it("after the start, a worker that dies is replaced; replacements that fail are retried with a doubling pause until one listens; stop ends them all cleanly", async () => {
    const { log, lines, setMode } = await setUp("ok");
    const pool = startWorkers(2, log);
    await pool.listening;
    await setMode("fail");
    const [victim] = Object.values(cluster.workers ?? {});
    victim?.process.kill("SIGKILL");
    const restarts = () => lines.filter((l) => l.msg === "worker exited; starting another").map((l) => l.restartInMs);
    await eventually("two failed replacements", async () => restarts().length >= 3, 15_000);
    assert.deepEqual(restarts().slice(0, 3), [1000, 1000, 2000], "the killed worker, then each failed replacement doubles the pause");
    await setMode("ok");
    const listening = () => lines.filter((l) => l.msg === "worker listening").length;
    await eventually("a replacement that listens", async () => listening() === 3, 15_000);
    assert.equal(Object.keys(cluster.workers ?? {}).length, 2);
    assert.equal(await pool.stop(), true);
    assert.equal(Object.keys(cluster.workers ?? {}).length, 0);
  });
});
