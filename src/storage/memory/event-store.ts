import type { AuditEvent } from "../../domain/index.js";
import type { EventStore, ExpiringRecords } from "../composed-realm-repository.js";
import { compareNewestFirst, decodePageToken, eventCursor, eventPageShape, pageOf, pageSizeOf, type PageCursor } from "../paging.js";
import type { EventQuery, Page } from "../realm-repository.js";
import { copy } from "./copies.js";
import type { MemoryState } from "./memory-state.js";

/** In a list stored oldest first, the index of the first event as new as `key` or newer. */
function firstNewerOrSame(items: AuditEvent[], key: PageCursor): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareNewestFirst(eventCursor(items[mid]), key) <= 0) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * The audit trail, per realm, oldest first. At most about `maxEvents` per realm are kept: the oldest go
 * in chunks of a tenth, so that a long load test on `npm start` does not grow the heap without end.
 */
export class MemoryEventStore implements EventStore, ExpiringRecords {
  constructor(
    private readonly state: MemoryState,
    private readonly maxEvents: number,
  ) {}

  async appendEvents(events: AuditEvent[]): Promise<void> {
    for (const event of events) {
      // Oldest first, so the usual case (a newer event) is an append, not a shift of the whole array.
      const stored = this.state.recordsOf(event.realm).events;
      const key = eventCursor(event);
      const last = stored.at(-1);
      if (last === undefined || compareNewestFirst(eventCursor(last), key) > 0) stored.push(copy(event));
      else stored.splice(firstNewerOrSame(stored, key), 0, copy(event));
      // Oldest first: the front goes, a tenth over the bound at a time (one shift per many appends).
      if (stored.length > this.maxEvents + Math.ceil(this.maxEvents / 10)) stored.splice(0, stored.length - this.maxEvents);
    }
  }

  async listEvents(realm: string, query: EventQuery): Promise<Page<AuditEvent>> {
    const { kind, clientId, subject, result, since, until } = query;
    const shape = eventPageShape(realm, query);
    const cursor = decodePageToken(shape, query.pageToken);
    const size = pageSizeOf(query);
    const stored = this.state.records.get(realm)?.events ?? [];
    const matching: AuditEvent[] = [];
    // Stored oldest first: walk from the newest (or from just older than the cursor) backwards.
    for (let i = (cursor ? firstNewerOrSame(stored, cursor) : stored.length) - 1; i >= 0 && matching.length <= size; i--) {
      const e = stored[i];
      if (since !== undefined && e.time < since) break; // the rest is older still
      if (
        (kind === undefined || e.kind === kind) &&
        (clientId === undefined || e.clientId === clientId) &&
        (subject === undefined || e.subject === subject) &&
        (result === undefined || e.result === result) &&
        (since === undefined || e.time >= since) &&
        (until === undefined || e.time < until)
      ) {
        matching.push(e);
      }
    }
    const page = pageOf(matching, size, shape, eventCursor);
    return { ...page, items: page.items.map(copy) };
  }

  /** Deletes the events older than `eventsBefore`. */
  async purgeExpired(_now: Date, eventsBefore: Date): Promise<number> {
    let purged = 0;
    for (const records of this.state.records.values()) {
      const kept = records.events.filter((e) => e.time >= eventsBefore);
      purged += records.events.length - kept.length;
      records.events = kept;
    }
    return purged;
  }
}
