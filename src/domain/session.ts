/** Why a session ended. */
export type SessionEndReason = "logout" | "admin" | "refresh_token_reuse";

/**
 * A user's session in a realm: created where the user's identity enters the realm (impersonation,
 * later external identity providers). Tokens carry its id as `sid`; once it ends, every token with
 * that `sid` is refused as a subject, actor or refresh token.
 */
export interface Session {
  id: string;
  userId: string;
  /** The client that started the session. */
  clientId: string;
  startedAt: Date;
  /** Last refresh; the idle timeout counts from here. */
  lastActiveAt: Date;
  /** `lastActiveAt` + this many seconds ends the session. */
  idleTimeout: number;
  /** The session ends here whatever happens. */
  maxExpiresAt: Date;
  endedAt?: Date;
  endReason?: SessionEndReason;
}

/** When the session stops being usable, ended or not. */
export function sessionExpiresAt(session: Session): Date {
  const idle = session.lastActiveAt.getTime() + session.idleTimeout * 1000;
  return new Date(Math.min(idle, session.maxExpiresAt.getTime()));
}

/** A session is active until it is ended, idle too long, or past its maximum lifetime. */
export function isSessionActive(session: Session | undefined, now: Date): session is Session {
  return session !== undefined && session.endedAt === undefined && sessionExpiresAt(session) > now;
}
