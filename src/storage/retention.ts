/** Sessions that ended or expired longer ago than this are deleted by `RealmRepository.purgeExpired`. */
export const SESSION_RETENTION_MS = 24 * 60 * 60 * 1000;

/** The time before which ended or expired sessions are purged at `now`. */
export function sessionPurgeCutoff(now: Date): Date {
  return new Date(now.getTime() - SESSION_RETENTION_MS);
}
