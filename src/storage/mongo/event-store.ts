import type { Filter } from "mongodb";
import type { AuditEvent } from "../../domain/index.js";
import type { EventStore, ExpiringRecords } from "../composed-realm-repository.js";
import { decodePageToken, eventCursor, eventPageShape, pageOf, pageSizeOf } from "../paging.js";
import type { EventQuery, Page } from "../realm-repository.js";
import type { MongoStoreContext } from "./collections.js";

/** The audit trail: events of every realm in one collection, listed newest first. */
export class MongoEventStore implements EventStore, ExpiringRecords {
  constructor(private readonly context: MongoStoreContext) {}

  async appendEvents(events: AuditEvent[]): Promise<void> {
    const { collections, calls } = this.context;
    if (events.length === 0) return;
    await calls.call(() => collections.events.insertMany(events.map((event) => ({ ...event }))));
  }

  async listEvents(realm: string, query: EventQuery): Promise<Page<AuditEvent>> {
    const { collections, calls } = this.context;
    const { kind, clientId, subject, result, since, until } = query;
    const shape = eventPageShape(realm, query);
    const cursor = decodePageToken(shape, query.pageToken);
    const size = pageSizeOf(query);
    const filter: Filter<AuditEvent> = { realm };
    if (kind !== undefined) filter.kind = kind;
    if (clientId !== undefined) filter.clientId = clientId;
    if (subject !== undefined) filter.subject = subject;
    if (result !== undefined) filter.result = result;
    if (since || until) filter.time = { ...(since && { $gte: since }), ...(until && { $lt: until }) };
    if (cursor) filter.$or = [{ time: { $lt: cursor.time } }, { time: cursor.time, id: { $gt: cursor.id } }];
    const events = await calls.call(() =>
      collections.events
        .find<AuditEvent>(filter, { projection: { _id: 0 } })
        .sort({ time: -1, id: 1 })
        .limit(size + 1)
        .toArray(),
    );
    return pageOf(events, size, shape, eventCursor);
  }

  /** Counts the events older than `eventsBefore`. */
  async purgeExpired(_now: Date, eventsBefore: Date): Promise<number> {
    const { collections, calls } = this.context;
    return calls.call(async () => (await collections.events.deleteMany({ time: { $lt: eventsBefore } })).deletedCount);
  }
}
