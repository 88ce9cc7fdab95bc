import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EventSchema } from "../../../gen/tessera/admin/v1/event_pb.js";
import { SessionSchema } from "../../../gen/tessera/admin/v1/session_pb.js";
import { allPages, printDone, printMessages, text, usageError, type Command, type FlagValues } from "./command.js";

/** A `--since`/`--until` flag: an ISO 8601 time, or a duration back from now (`90s`, `15m`, `2h`, `7d`). */
function timeFlag(flags: FlagValues, name: string, now = Date.now()) {
  const value = text(flags, name);
  if (value === undefined) return undefined;
  const ago = /^(\d+)([smhd])$/.exec(value);
  const ms = ago ? now - Number(ago[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[ago[2] as "s" | "m" | "h" | "d"] : Date.parse(value);
  if (Number.isNaN(ms)) throw usageError(`--${name}: expected an ISO 8601 time or a duration such as 15m`);
  return timestampFromDate(new Date(ms));
}

/** `tessera admin sessions ...` and `tessera admin events list`: what happened in a realm. */
export const ACTIVITY_COMMANDS: Command[] = [
  {
    words: "sessions list",
    arguments: ["REALM"],
    summary: "a realm's sessions, newest first",
    flags: {
      user: { type: "string", placeholder: "USER_ID", help: "only this user's sessions" },
      active: { type: "boolean", help: "only sessions usable now" },
    },
    async run([realm], context) {
      const sessions = await allPages(async (pageToken) => {
        const page = await context.admin.listSessions({ realm, userId: text(context.flags, "user") ?? "", activeOnly: context.flags.active === true, pageSize: 1000, pageToken });
        return { items: page.sessions, nextPageToken: page.nextPageToken };
      });
      printMessages(context, SessionSchema, sessions, ["id", "userId", "clientId", "startedAt", "expiresAt", "active", "endReason"]);
    },
  },
  {
    words: "sessions end",
    arguments: ["REALM", "SESSION_ID"],
    summary: "end a session: every token with its sid stops working at once",
    async run([realm, sessionId], context) {
      await context.admin.endSession({ realm, sessionId });
      printDone(context, { sessionId, ended: true });
    },
  },
  {
    words: "events list",
    arguments: ["REALM"],
    summary: "a realm's audit events, newest first",
    flags: {
      kind: { type: "string", placeholder: "KIND", help: "only this kind (token_exchange, client_credentials, admin, ...)" },
      client: { type: "string", placeholder: "CLIENT_ID", help: "only this client's" },
      subject: { type: "string", placeholder: "SUB", help: "only this subject's" },
      result: { type: "string", placeholder: "success|failure", help: "only successes or only failures" },
      since: { type: "string", placeholder: "TIME", help: "only at or after TIME (ISO 8601, or 15m, 2h, 7d ago)" },
      until: { type: "string", placeholder: "TIME", help: "only before TIME" },
      limit: { type: "string", placeholder: "N", help: "at most N events (default 100)" },
    },
    async run([realm], context) {
      const { flags } = context;
      const limitText = text(flags, "limit") ?? "100";
      if (!/^[1-9]\d{0,3}$/.test(limitText) || Number(limitText) > 1000) throw usageError("--limit: expected a number from 1 to 1000");
      const { events } = await context.admin.listEvents({
        realm,
        kind: text(flags, "kind") ?? "",
        clientId: text(flags, "client") ?? "",
        subject: text(flags, "subject") ?? "",
        result: text(flags, "result") ?? "",
        since: timeFlag(flags, "since"),
        until: timeFlag(flags, "until"),
        pageSize: Number(limitText),
      });
      printMessages(context, EventSchema, events, ["time", "kind", "result", "clientId", "subject", "error"]);
    },
  },
];
