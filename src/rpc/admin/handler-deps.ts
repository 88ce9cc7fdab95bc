import type { Clock, Realm } from "../../domain/index.js";
import type { RealmRepository } from "../../storage/realm-repository.js";

/** What every group of AdminService methods works with. */
export interface AdminHandlerDeps {
  repository: RealmRepository;
  clock: Clock;
  /** Resolves the realm or throws NOT_FOUND. */
  requireRealm: (name: string) => Promise<Realm>;
}

/** Page size when a listing asks for none. */
const DEFAULT_PAGE_SIZE = 100;

/** Paging of an admin listing request (page size clamped to 1..1000 by the repository). */
export function pageRequest(request: { pageSize: number; pageToken: string }): { pageSize: number; pageToken?: string } {
  return { pageSize: request.pageSize > 0 ? request.pageSize : DEFAULT_PAGE_SIZE, ...(request.pageToken && { pageToken: request.pageToken }) };
}
