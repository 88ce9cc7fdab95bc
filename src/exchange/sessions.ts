import { randomUUID } from "node:crypto";
import { isSessionActive, type Clock, type Realm, type Session, type SessionEndReason } from "../domain/index.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { AuditLog } from "./audit-log.js";

/** Starts, checks and ends sessions; ending one is audited. */
export class SessionManager {
  constructor(
    private readonly repository: RealmRepository,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  /** Starts a session for `userId`, started by `clientId`, with the realm's timeouts. */
  async start(realm: Realm, userId: string, clientId: string): Promise<Session> {
    const now = this.clock.now();
    const session: Session = {
      id: randomUUID(),
      userId,
      clientId,
      startedAt: now,
      lastActiveAt: now,
      idleTimeout: realm.sessionIdleTimeout,
      maxExpiresAt: new Date(now.getTime() + realm.sessionMaxLifespan * 1000),
    };
    await this.repository.createSession(realm.name, session);
    return session;
  }

  /** The session if it is active now. */
  async active(realm: string, id: string): Promise<Session | undefined> {
    const session = await this.repository.getSession(realm, id);
    return isSessionActive(session, this.clock.now()) ? session : undefined;
  }

  /** Ends a session; returns false when it did not exist or had ended already. */
  async end(realm: string, id: string, reason: SessionEndReason, clientId?: string): Promise<boolean> {
    const session = await this.repository.getSession(realm, id);
    const ended = await this.repository.endSession(realm, id, this.clock.now(), reason);
    if (ended) {
      this.audit.record(realm, "session_end", "success", { jtis: [], sessionId: id, subject: session?.userId, clientId });
    }
    return ended;
  }
}
