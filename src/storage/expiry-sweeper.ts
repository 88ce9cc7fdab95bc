import type { Clock } from "../domain/index.js";
import type { Logger } from "../ops/logger.js";
import type { RealmRepository } from "./realm-repository.js";

/** Options of {@link ExpirySweeper}. */
export interface ExpirySweeperOptions {
  /** How often to purge, milliseconds. */
  intervalMs?: number;
  /** How long audit events are kept, days. */
  eventRetentionDays?: number;
}

/**
 * Purges expired records (used jtis, revocations, lineage, refresh tokens, old sessions and
 * events) on a timer, so storage does not grow without bound on servers without TTL indexes.
 * Correctness never depends on it: every query ignores expired records.
 */
export class ExpirySweeper {
  readonly #timer: NodeJS.Timeout;
  readonly #retentionMs: number;

  constructor(
    private readonly repository: RealmRepository,
    private readonly clock: Clock,
    private readonly log: Logger,
    options: ExpirySweeperOptions = {},
  ) {
    this.#retentionMs = (options.eventRetentionDays ?? 30) * 86_400_000;
    this.#timer = setInterval(() => void this.sweep(), options.intervalMs ?? 600_000).unref();
  }

  /** Purges once; failures are logged and retried at the next tick. */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    try {
      const purged = await this.repository.purgeExpired(now, new Date(now.getTime() - this.#retentionMs));
      if (purged > 0) this.log.info({ purged }, "expired records purged");
    } catch (error) {
      this.log.warn({ err: error }, "purge of expired records failed; will retry");
    }
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
