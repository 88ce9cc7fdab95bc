import type { Filter } from "mongodb";
import { isSessionActive, sessionExpiresAt, type Session, type SessionEndReason } from "../../domain/index.js";
import type { ExpiringRecords, SessionStore } from "../composed-realm-repository.js";
import { decodePageToken, pageOf, pageSizeOf, sessionCursor, sessionPageShape } from "../paging.js";
import type { Page, SessionQuery } from "../realm-repository.js";
import { sessionPurgeCutoff } from "../retention.js";
import { HIDDEN_FIELDS, type MongoStoreContext } from "./collections.js";
import { toSession, type SessionDoc, type SessionEndDoc } from "./documents.js";

/** Most ids in one `$in` of {@link MongoSessionStore.purgeExpired}. */
const PURGE_BATCH = 500;

/**
 * Sessions: a `sessions` document each (only `touchSession` updates it), and a `session_ends` document
 * once it ended, unique per session so that the first end wins. Readers merge the two.
 */
export class MongoSessionStore implements SessionStore, ExpiringRecords {
  constructor(private readonly context: MongoStoreContext) {}

  /**
   * Throws {@link StorageConflictError} on a duplicate id. Does not check that the realm exists: records
   * of an unknown realm go when a realm of that name is created.
   */
  async createSession(realm: string, session: Session): Promise<void> {
    const { collections, calls } = this.context;
    const { endedAt, endReason, ...rest } = session;
    await calls.call(
      () => collections.sessions.insertOne({ ...rest, realm, expiresAt: sessionExpiresAt(session) }),
      `session ${session.id} already exists in realm ${realm}`,
    );
    if (endedAt) {
      await calls.call(() => collections.sessionEnds.insertOne({ realm, sessionId: session.id, endedAt, endReason }));
    }
  }

  async getSession(realm: string, id: string): Promise<Session | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const [doc, end] = await Promise.all([
        collections.sessions.findOne<SessionDoc>({ realm, id }, { projection: HIDDEN_FIELDS }),
        collections.sessionEnds.findOne({ realm, sessionId: id }),
      ]);
      return doc ? toSession(doc, end ?? undefined) : undefined;
    });
  }

  /**
   * Does nothing when the session is unknown, ended or already expired at `at` (an idle session is not
   * revived). Two touches of one session at the same moment may, on FerretDB, keep the earlier time.
   */
  async touchSession(realm: string, id: string, at: Date): Promise<void> {
    const { collections, calls } = this.context;
    const session = await this.getSession(realm, id);
    if (!isSessionActive(session, at) || at <= session.lastActiveAt) return;
    const expiresAt = sessionExpiresAt({ ...session, lastActiveAt: at });
    await calls.call(() =>
      collections.sessions.updateOne({ realm, id, lastActiveAt: { $lt: at } }, { $set: { lastActiveAt: at, expiresAt } }),
    );
  }

  /** The first end wins by inserting into the unique (realm, sessionId) index of `session_ends`. */
  async endSession(realm: string, id: string, at: Date, reason: SessionEndReason): Promise<boolean> {
    const { collections, calls } = this.context;
    const exists = await calls.call(() => collections.sessions.findOne({ realm, id }, { projection: { _id: 1 } }));
    if (!exists) return false;
    return calls.insertFirst(() => collections.sessionEnds.insertOne({ realm, sessionId: id, endedAt: at, endReason: reason }));
  }

  /**
   * The query filters on realm, user and the stored expiry; ended sessions are dropped in code, fetching
   * further batches until the page is full or the sessions run out.
   */
  async listSessions(realm: string, query: SessionQuery): Promise<Page<Session>> {
    const { collections, calls } = this.context;
    const { userId, activeAt } = query;
    const shape = sessionPageShape(realm, query);
    let cursor = decodePageToken(shape, query.pageToken);
    const size = pageSizeOf(query);
    const base: Filter<SessionDoc> = { realm };
    if (userId !== undefined) base.userId = userId;
    if (activeAt) base.expiresAt = { $gt: activeAt };
    const found: Session[] = [];
    return calls.call(async () => {
      for (;;) {
        const filter: Filter<SessionDoc> = cursor
          ? { ...base, $or: [{ startedAt: { $lt: cursor.time } }, { startedAt: cursor.time, id: { $gt: cursor.id } }] }
          : base;
        const docs = await collections.sessions
          .find<SessionDoc>(filter, { projection: HIDDEN_FIELDS })
          .sort({ startedAt: -1, id: 1 })
          .limit(size + 1)
          .toArray();
        const ends = await this.#endsOf(realm, docs.map((d) => d.id));
        for (const doc of docs) {
          const session = toSession(doc, ends.get(doc.id));
          if (!activeAt || isSessionActive(session, activeAt)) found.push(session);
        }
        if (docs.length <= size || found.length > size) return pageOf(found, size, shape, sessionCursor);
        cursor = sessionCursor(docs[docs.length - 1]);
      }
    });
  }

  async #endsOf(realm: string, ids: string[]): Promise<Map<string, SessionEndDoc>> {
    if (ids.length === 0) return new Map();
    const ends = await this.context.collections.sessionEnds.find({ realm, sessionId: { $in: ids } }).toArray();
    return new Map(ends.map((end) => [end.sessionId, end]));
  }

  /** Deletes the sessions (and their ends) that ended or expired a retention period before `now`; returns how many sessions went. */
  async purgeExpired(now: Date): Promise<number> {
    const { collections, calls } = this.context;
    const cutoff = sessionPurgeCutoff(now);
    return calls.call(async () => {
      const [ended, expired] = await Promise.all([
        collections.sessionEnds.find({ endedAt: { $lt: cutoff } }, { projection: { _id: 0, realm: 1, sessionId: 1 } }).toArray(),
        collections.sessions.find({ expiresAt: { $lt: cutoff } }, { projection: { _id: 0, realm: 1, id: 1 } }).toArray(),
      ]);
      const byRealm = new Map<string, Set<string>>();
      const add = (realm: string, id: string) => byRealm.set(realm, (byRealm.get(realm) ?? new Set()).add(id));
      for (const end of ended) add(end.realm, end.sessionId);
      for (const session of expired) add(session.realm, session.id);
      let purged = 0;
      for (const [realm, idSet] of byRealm) {
        const ids = [...idSet];
        for (let start = 0; start < ids.length; start += PURGE_BATCH) {
          const batch = ids.slice(start, start + PURGE_BATCH);
          purged += (await collections.sessions.deleteMany({ realm, id: { $in: batch } })).deletedCount;
          await collections.sessionEnds.deleteMany({ realm, sessionId: { $in: batch } });
        }
      }
      return purged;
    });
  }
}
