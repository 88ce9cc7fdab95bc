import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Logger } from "../ops/logger.js";

/** What a worker tells the primary once it listens. */
export interface WorkerListening {
  kind: "tessera:listening";
  port: number;
  secure: boolean;
  publicUrl: string;
  grpcPort?: number;
}

/** Tells the primary (if this process is a `--workers` worker) where it listens. */
export function reportListening(listening: Omit<WorkerListening, "kind">): void {
  if (cluster.isWorker) process.send?.({ kind: "tessera:listening", ...listening } satisfies WorkerListening);
}

/** A worker's request for the metrics of every worker, and the primary's answer. */
interface MetricsMessage {
  kind: "tessera:metrics";
  id: number;
  text?: string;
  error?: string;
}

const isMessage = <T extends { kind: string }>(message: unknown, kind: T["kind"]): message is T =>
  typeof message === "object" && message !== null && (message as { kind?: unknown }).kind === kind;

/** How long a worker waits for its primary's metrics before `/metrics` fails. */
const METRICS_TIMEOUT_MS = 5000;

/** In a `--workers` worker: lets the primary read `registry`, for the sum over every worker (prom-client's cluster protocol). */
export function shareMetricsWithPrimary(registry: Registry): void {
  new AggregatorRegistry(); // installs prom-client's worker side, which answers the primary
  AggregatorRegistry.setRegistries([registry]);
}

const pendingMetrics = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
let nextMetricsId = 0;

/**
 * In a `--workers` worker: the metrics of every worker, summed by the primary; what `/metrics`
 * serves there, since a scrape reaches whichever worker takes the connection.
 */
export function workersMetricsText(): Promise<string> {
  if (nextMetricsId === 0) {
    process.on("message", (message: unknown) => {
      if (!isMessage<MetricsMessage>(message, "tessera:metrics")) return;
      const waiting = pendingMetrics.get(message.id);
      pendingMetrics.delete(message.id);
      if (message.text !== undefined) waiting?.resolve(message.text);
      else waiting?.reject(new Error(`metrics of the workers: ${message.error ?? "no answer"}`));
    });
  }
  return new Promise<string>((resolve, reject) => {
    const id = ++nextMetricsId;
    const timer = setTimeout(() => {
      pendingMetrics.delete(id);
      reject(new Error("metrics of the workers: the primary did not answer"));
    }, METRICS_TIMEOUT_MS);
    const settled = <T>(done: (value: T) => void) => (value: T) => {
      clearTimeout(timer);
      done(value);
    };
    pendingMetrics.set(id, { resolve: settled(resolve), reject: settled(reject) });
    process.send?.({ kind: "tessera:metrics", id } satisfies MetricsMessage);
  });
}

/** A worker that stops unasked is replaced after this pause, doubled after each replacement that fails to listen. */
const RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;

/** The `--workers N` processes, seen from the primary. */
export interface WorkerPool {
  /** Resolves when every worker listens, with what the last one reported; rejects with {@link WorkerStartError} if one exits first. */
  listening: Promise<WorkerListening>;
  /** Graceful stop: SIGTERM to every worker (each drains its requests); resolves true when all exited cleanly. */
  stop(): Promise<boolean>;
}

/**
 * Forks `count` workers of this same command (node:cluster): they share the listening port(s), and
 * the primary hands connections out in turn. A worker that exits before the pool has started fails
 * the start (the others are stopped: a replacement would fail the same way). Once started, a worker
 * that exits is replaced, after a pause that doubles (up to 30 s) while replacements keep failing
 * before they listen (storage down, say), and resets when one listens.
 */
export function startWorkers(count: number, log: Logger): WorkerPool {
  let stopping = false;
  let started = false;
  let restartDelayMs = RESTART_DELAY_MS;
  const alive = new Set<Worker>();
  const listened = new Set<Worker>();
  let settle!: { resolve: (report: WorkerListening) => void; reject: (error: Error) => void };
  const listening = new Promise<WorkerListening>((resolve, reject) => (settle = { resolve, reject }));

  const metrics = new AggregatorRegistry();

  const fork = (): void => {
    const worker = cluster.fork();
    alive.add(worker);
    log.info({ worker: worker.id, pid: worker.process.pid }, "worker started");
    worker.on("message", (message: unknown) => {
      if (isMessage<MetricsMessage>(message, "tessera:metrics")) {
        const answer = (reply: Partial<MetricsMessage>) => worker.isConnected() && worker.send({ kind: "tessera:metrics", id: message.id, ...reply });
        metrics.clusterMetrics().then(
          (text) => answer({ text }),
          (error: Error) => answer({ error: error.message }),
        );
      } else if (isMessage<WorkerListening>(message, "tessera:listening")) {
        listened.add(worker);
        log.info({ worker: worker.id }, "worker listening");
        restartDelayMs = RESTART_DELAY_MS;
        if (!started && listened.size === count) {
          started = true;
          settle.resolve(message);
        }
      }
    });
    worker.once("exit", (code, signal) => {
      alive.delete(worker);
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (!started) {
        log.error({ worker: worker.id, how }, "worker exited before it listened; stopping");
        stopping = true;
        for (const other of alive) other.process.kill("SIGTERM");
        settle.reject(new WorkerStartError(code || 1));
        return;
      }
      const delayMs = restartDelayMs;
      if (!listened.has(worker)) restartDelayMs = Math.min(2 * restartDelayMs, MAX_RESTART_DELAY_MS);
      log.error({ worker: worker.id, how, restartInMs: delayMs }, "worker exited; starting another");
      setTimeout(() => stopping || fork(), delayMs);
    });
  };

  for (let i = 0; i < count; i += 1) fork();

  return {
    listening,
    stop: async () => {
      stopping = true;
      const exits = [...alive].map(
        (worker) =>
          new Promise<boolean>((resolve) => {
            worker.once("exit", (code) => resolve(code === 0));
            worker.process.kill("SIGTERM");
          }),
      );
      return (await Promise.all(exits)).every(Boolean);
    },
  };
}

/** A worker exited before it listened (it wrote why on stderr); `code` is its exit code. */
export class WorkerStartError extends Error {
  override readonly name = "WorkerStartError";
  constructor(readonly code: number) {
    super(`a worker exited before it listened (exit code ${code})`);
  }
}
