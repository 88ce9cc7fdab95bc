import { isSessionActive, sessionExpiresAt, type Session, type SessionEndReason } from "../../domain/index.js";
import type { ExpiringRecords, SessionStore } from "../composed-realm-repository.js";
import { compareNewestFirst, decodePageToken, isAfter, pageOf, pageSizeOf, sessionCursor, sessionPageShape } from "../paging.js";
import { StorageConflictError, type Page, type SessionQuery } from "../realm-repository.js";
import { sessionPurgeCutoff } from "../retention.js";
import { copy, dropExpired } from "./copies.js";
import type { MemoryState } from "./memory-state.js";

/** Sessions, in the records of their realm (written whether or not the realm exists). */
export class MemorySessionStore implements SessionStore, ExpiringRecords {
  constructor(private readonly state: MemoryState) {}

  async createSession(realm: string, session: Session): Promise<void> {
    const sessions = this.state.recordsOf(realm).sessions;
    if (sessions.has(session.id)) {
      throw new StorageConflictError(`session ${session.id} already exists in realm ${realm}`);
    }
    sessions.set(session.id, copy(session));
  }

  async getSession(realm: string, id: string): Promise<Session | undefined> {
    const session = this.state.records.get(realm)?.sessions.get(id);
    return session && copy(session);
  }

  /** Does nothing when the session is unknown, ended or already expired at `at` (an idle session is not revived). */
  async touchSession(realm: string, id: string, at: Date): Promise<void> {
    const session = this.state.records.get(realm)?.sessions.get(id);
    if (!isSessionActive(session, at) || at <= session.lastActiveAt) return;
    session.lastActiveAt = new Date(at);
  }

  async endSession(realm: string, id: string, at: Date, reason: SessionEndReason): Promise<boolean> {
    const session = this.state.records.get(realm)?.sessions.get(id);
    if (!session || session.endedAt !== undefined) return false;
    session.endedAt = new Date(at);
    session.endReason = reason;
    return true;
  }

  async listSessions(realm: string, query: SessionQuery): Promise<Page<Session>> {
    const shape = sessionPageShape(realm, query);
    const cursor = decodePageToken(shape, query.pageToken);
    const { userId, activeAt } = query;
    const matching = [...(this.state.records.get(realm)?.sessions.values() ?? [])]
      .filter((s) => userId === undefined || s.userId === userId)
      .filter((s) => activeAt === undefined || isSessionActive(s, activeAt))
      .filter((s) => !cursor || isAfter(sessionCursor(s), cursor))
      .sort((a, b) => compareNewestFirst(sessionCursor(a), sessionCursor(b)));
    const page = pageOf(matching, pageSizeOf(query), shape, sessionCursor);
    return { ...page, items: page.items.map(copy) };
  }

  /** Deletes the sessions that ended or expired a retention period before `now`. */
  async purgeExpired(now: Date): Promise<number> {
    const cutoff = sessionPurgeCutoff(now).getTime();
    let purged = 0;
    for (const records of this.state.records.values()) {
      purged += dropExpired(
        records.sessions,
        (s) => (s.endedAt !== undefined && s.endedAt.getTime() < cutoff) || sessionExpiresAt(s).getTime() < cutoff,
      );
    }
    return purged;
  }
}
