import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import type { SessionManager } from "../../exchange/sessions.js";
import { noteAdminChange } from "../admin-auth.js";
import { sessionToMessage } from "./convert.js";
import { notFound } from "./errors.js";
import { pageRequest, type AdminHandlerDeps } from "./handler-deps.js";

/** The session methods of the AdminService. */
export type SessionMethods = Pick<ServiceImpl<typeof AdminService>, "listSessions" | "endSession">;

/** What the session methods need. */
export interface SessionMethodDeps extends AdminHandlerDeps {
  /** Ends sessions, so that every token carrying their `sid` stops working. */
  sessions: SessionManager;
}

/** Listing and ending a realm's sessions. */
export function sessionMethods(deps: SessionMethodDeps): SessionMethods {
  const { repository, clock, sessions, requireRealm } = deps;
  return {
    listSessions: async (request) => {
      await requireRealm(request.realm);
      const now = clock.now();
      const page = await repository.listSessions(request.realm, {
        ...pageRequest(request),
        ...(request.userId && { userId: request.userId }),
        ...(request.activeOnly && { activeAt: now }),
      });
      return { sessions: page.items.map((s) => sessionToMessage(s, now)), nextPageToken: page.nextPageToken ?? "" };
    },
    endSession: async ({ realm, sessionId }, context) => {
      await requireRealm(realm);
      noteAdminChange(context, { resource: `sessions/${sessionId}` });
      if (!(await sessions.end(realm, sessionId, "admin"))) throw notFound(`active session ${sessionId}`);
      return {};
    },
  };
}
