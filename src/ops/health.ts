import type { Logger } from "./logger.js";

/** One condition of readiness. */
export interface ReadinessCheck {
  name: string;
  /** Resolves when the condition holds; rejects (or times out) when it does not. */
  run(): Promise<void>;
  /** Once it has passed, it is not run again (a start-up condition such as keys loaded). */
  once?: boolean;
}

/** The state of one check. */
export type CheckState = "ok" | "failing" | "pending";

/** What `/readyz` answers. */
export interface ReadinessReport {
  status: "ready" | "not_ready" | "shutting_down";
  checks: Record<string, CheckState>;
}

/** Options of {@link HealthMonitor}. */
export interface HealthMonitorOptions {
  /** Time between two rounds of checks, ms. Default 5000. */
  intervalMs?: number;
  /** A check that takes longer fails, ms. Default 2000. */
  timeoutMs?: number;
  log: Logger;
  /** Called with the new readiness at each change. */
  onChange?: (ready: boolean) => void;
}

/**
 * Readiness of the server: checks run in the background every interval (probes read the last
 * result, so a storm of probes never reaches the storage), and every change is announced to
 * subscribers (`grpc.health.v1.Health/Watch`). Ready again by itself when a failing check passes.
 * After {@link HealthMonitor.beginShutdown} it is never ready again.
 */
export class HealthMonitor {
  #checks: ReadinessCheck[] = [];
  readonly #states = new Map<string, CheckState>();
  readonly #listeners = new Set<() => void>();
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #onChange?: (ready: boolean) => void;
  #timer: NodeJS.Timeout | undefined;
  #shuttingDown = false;
  #closed = false;
  #ready = false;

  constructor(options: HealthMonitorOptions) {
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#log = options.log;
    this.#onChange = options.onChange;
  }

  /** Runs the first round of `checks` now and keeps checking until {@link close}. Not ready before. */
  start(checks: ReadinessCheck[]): void {
    if (this.#closed || this.#checks.length > 0) throw new Error("HealthMonitor.start: already started or closed");
    this.#checks = checks;
    for (const check of checks) this.#states.set(check.name, "pending");
    void this.#round();
  }

  /** Serving: every check passed and no shutdown has begun. */
  get ready(): boolean {
    return this.#ready;
  }

  /** True once {@link close} was called: watchers should end. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The state of readiness and of each check. */
  report(): ReadinessReport {
    const status = this.#shuttingDown ? "shutting_down" : this.#ready ? "ready" : "not_ready";
    return { status, checks: Object.fromEntries(this.#states) };
  }

  /** Resolves at the next change of readiness, at {@link close}, or when `signal` aborts. */
  changed(signal?: AbortSignal): Promise<void> {
    if (this.#closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#listeners.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.#listeners.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** SIGTERM: not ready from now on, so load balancers stop sending new work. */
  beginShutdown(): void {
    this.#shuttingDown = true;
    this.#update();
  }

  /** Stops checking and releases every watcher. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#notify();
  }

  async #round(): Promise<void> {
    await Promise.all(
      this.#checks.map(async (check) => {
        if (check.once && this.#states.get(check.name) === "ok") return;
        try {
          await withTimeout(check.run(), this.#timeoutMs);
          this.#states.set(check.name, "ok");
        } catch (error) {
          if (this.#states.get(check.name) !== "failing") {
            this.#log.warn({ check: check.name, reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, "readiness check failing");
          }
          this.#states.set(check.name, "failing");
        }
      }),
    );
    this.#update();
    if (!this.#closed) {
      this.#timer = setTimeout(() => void this.#round(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  #update(): void {
    const ready = !this.#shuttingDown && [...this.#states.values()].every((state) => state === "ok");
    if (ready === this.#ready) return;
    this.#ready = ready;
    this.#log.info({ ready, checks: Object.fromEntries(this.#states) }, ready ? "ready" : "not ready");
    this.#onChange?.(ready);
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
