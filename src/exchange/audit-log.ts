import { randomUUID } from "node:crypto";
import type { AuditEvent, AuditEventKind, Clock } from "../domain/index.js";
import type { Logger } from "../ops/logger.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import { OAuthError } from "./errors.js";

/** What a grant learns about the operation as it goes; recorded whatever the outcome. */
export type AuditDraft = Partial<Omit<AuditEvent, "id" | "time" | "realm" | "kind" | "result" | "error" | "jtis">> & {
  jtis: string[];
};

/** Options of {@link AuditLog}. */
export interface AuditLogOptions {
  /** Events are written to storage in batches at least this often. */
  flushIntervalMs?: number;
  /** A batch is written as soon as it has this many events. */
  batchSize?: number;
  /** Events kept while storage is unreachable; the oldest are dropped (and said so) beyond this. */
  maxPending?: number;
}

/**
 * The audit trail: every audited operation, successful or not, becomes an {@link AuditEvent}
 * written to the log at once and to storage in small batches (so an exchange does not wait for
 * its audit write). {@link flush} writes what is pending; shutdown must call {@link close}.
 */
export class AuditLog {
  readonly #pending: AuditEvent[] = [];
  readonly #options: Required<AuditLogOptions>;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly repository: RealmRepository,
    private readonly clock: Clock,
    private readonly log: Logger,
    options: AuditLogOptions = {},
  ) {
    this.#options = { flushIntervalMs: 200, batchSize: 100, maxPending: 10_000, ...options };
  }

  /**
   * Runs one audited operation: `operation` fills the draft as it learns who and what; the event is
   * recorded with the outcome (the OAuth error code of a failure) and the failure rethrown.
   */
  async around<T>(realm: string, kind: AuditEventKind, operation: (draft: AuditDraft) => Promise<T>): Promise<T> {
    const draft: AuditDraft = { jtis: [] };
    try {
      const result = await operation(draft);
      this.record(realm, kind, "success", draft);
      return result;
    } catch (error) {
      // An unknown realm has no audit trail to write to.
      if (!(error instanceof OAuthError && error.code === "not_found")) {
        this.record(realm, kind, "failure", draft, error instanceof OAuthError ? error.code : "server_error");
      }
      throw error;
    }
  }

  /** Records one event. */
  record(realm: string, kind: AuditEventKind, result: AuditEvent["result"], draft: AuditDraft, error?: string): void {
    const event: AuditEvent = { id: randomUUID(), time: this.clock.now(), realm, kind, result, ...draft, ...(error && { error }) };
    this.log.info({ audit: { ...event, time: event.time.toISOString() } }, `${kind} ${result}`);
    this.#pending.push(event);
    if (this.#pending.length > this.#options.maxPending) {
      const dropped = this.#pending.splice(0, this.#pending.length - this.#options.maxPending);
      this.log.error({ dropped: dropped.length }, "audit events dropped: storage unreachable for too long");
    }
    if (this.#pending.length >= this.#options.batchSize) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushIntervalMs).unref();
  }

  /** Writes every pending event; on a storage failure they stay pending for the next flush. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      const batch = this.#pending.splice(0, this.#pending.length);
      if (batch.length === 0) return;
      try {
        await this.repository.appendEvents(batch);
      } catch (error) {
        this.#pending.unshift(...batch);
        this.log.warn({ err: error, pending: this.#pending.length }, "audit events not written yet");
        this.#timer ??= setTimeout(() => void this.flush(), 1000).unref();
      }
    });
    return this.#flushing;
  }

  /** Flushes and stops the timer. */
  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.#timer);
  }
}
