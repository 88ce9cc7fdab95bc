import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { AUDIT_EVENT_KINDS, type AuditEvent, type AuditEventKind } from "../../domain/index.js";
import type { AuditLog } from "../../exchange/audit-log.js";
import { eventToMessage } from "./convert.js";
import { pageRequest, type AdminHandlerDeps } from "./handler-deps.js";

/** The audit-event methods of the AdminService. */
export type EventMethods = Pick<ServiceImpl<typeof AdminService>, "listEvents">;

/** What the audit-event methods need. */
export interface EventMethodDeps extends Pick<AdminHandlerDeps, "repository" | "requireRealm"> {
  /** Flushed before a listing, so that it shows the events of calls already answered. */
  audit: AuditLog;
}

/** Listing of a realm's audit events, newest first, with their filters. */
export function eventMethods(deps: EventMethodDeps): EventMethods {
  const { repository, audit, requireRealm } = deps;
  return {
    listEvents: async (request) => {
      await requireRealm(request.realm);
      await audit.flush();
      if (request.kind && !AUDIT_EVENT_KINDS.includes(request.kind as AuditEventKind)) {
        throw new ConnectError(`kind: expected one of ${AUDIT_EVENT_KINDS.join(" | ")}`, Code.InvalidArgument);
      }
      if (request.result && request.result !== "success" && request.result !== "failure") {
        throw new ConnectError("result: expected success | failure", Code.InvalidArgument);
      }
      const page = await repository.listEvents(request.realm, {
        ...pageRequest(request),
        ...(request.kind && { kind: request.kind as AuditEventKind }),
        ...(request.clientId && { clientId: request.clientId }),
        ...(request.subject && { subject: request.subject }),
        ...(request.result && { result: request.result as AuditEvent["result"] }),
        ...(request.since && { since: timestampDate(request.since) }),
        ...(request.until && { until: timestampDate(request.until) }),
      });
      return { events: page.items.map(eventToMessage), nextPageToken: page.nextPageToken ?? "" };
    },
  };
}
