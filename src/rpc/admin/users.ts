import { randomUUID } from "node:crypto";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { UserSchema, type User as UserMessage } from "../../../gen/tessera/admin/v1/user_pb.js";
import { newEtag } from "../../admin/revisions.js";
import { invalidArgument, invalidField, notFound } from "./errors.js";
import { updateVersioned } from "./updates.js";
import { mergeUpdate } from "../field-mask.js";
import type { User } from "../../domain/index.js";
import type { SessionManager } from "../../exchange/sessions.js";
import { validateUser } from "../../realm-file/index.js";
import { linkToMessage, userFromMessage, userToMessage } from "./convert.js";
import { noteAdminChange } from "../admin-auth.js";
import { pageRequest, type AdminHandlerDeps } from "./handler-deps.js";

/** The user methods of the AdminService. */
export type UserMethods = Pick<
  ServiceImpl<typeof AdminService>,
  "createUser" | "getUser" | "listUsers" | "updateUser" | "deleteUser" | "listUserLinks"
>;

/** What the user methods need. */
export interface UserMethodDeps extends AdminHandlerDeps {
  /** Ends a deleted user's sessions. */
  sessions: SessionManager;
}

/** Refuses a user that breaks a rule of realm files, naming the field. */
function checked(user: User): User {
  const issues = validateUser(user);
  if (user.username.trim() !== user.username) issues.push({ path: ["username"], message: "expected no leading or trailing spaces" });
  if (issues.length > 0) throw invalidArgument("user", issues);
  return user;
}

/** CRUD of a realm's users and a view of their identity-provider links. */
export function userMethods(deps: UserMethodDeps): UserMethods {
  const { repository, requireRealm } = deps;
  const userNotFound = (what: string) => notFound(`user ${what}`);
  const required = (message: UserMessage | undefined): UserMessage => {
    if (!message) throw invalidField("user", "required");
    return message;
  };
  const existing = async (realm: string, id: string): Promise<User> => {
    const user = id === "" ? undefined : await repository.getUser(realm, id);
    if (!user) throw userNotFound(id);
    return user;
  };
  return {
    createUser: async ({ realm, user }, context) => {
      await requireRealm(realm);
      const message = required(user);
      const created = { ...checked(userFromMessage(message, message.id || randomUUID())), etag: newEtag() };
      noteAdminChange(context, { resource: `users/${created.id}`, after: created });
      await repository.createUser(realm, created);
      return { user: userToMessage(created) };
    },
    getUser: async ({ realm, userId, username }) => {
      if ((userId === "") === (username === "")) throw invalidField("user_id", "expected exactly one of user_id and username");
      const user = userId ? await repository.getUser(realm, userId) : await repository.findUserByUsername(realm, username);
      if (!user) throw userNotFound(userId || username);
      return { user: userToMessage(user) };
    },
    listUsers: async (request) => {
      await requireRealm(request.realm);
      const page = await repository.listUsers(request.realm, {
        ...pageRequest(request),
        ...(request.usernamePrefix && { usernamePrefix: request.usernamePrefix }),
        ...(request.email && { email: request.email }),
        ...(request.enabled !== undefined && { enabled: request.enabled }),
      });
      return { users: page.items.map(userToMessage), nextPageToken: page.nextPageToken ?? "" };
    },
    updateUser: async ({ realm, user, updateMask }, context) => {
      const message = required(user);
      if (message.id === "") throw invalidField("user.id", "expected a non-empty string");
      const { before, after } = await updateVersioned(repository, deps.clock, {
        realm,
        kind: "user",
        key: message.id,
        etag: message.etag,
        read: () => repository.getUser(realm, message.id),
        apply: async (current) => checked(userFromMessage(mergeUpdate(UserSchema, userToMessage(current), message, updateMask, ["etag"]), current.id)),
        write: (next) => repository.updateUser(realm, next),
        notFound: () => userNotFound(message.id),
      });
      noteAdminChange(context, { resource: `users/${message.id}`, before, after });
      return { user: userToMessage(after) };
    },
    deleteUser: async ({ realm, userId }, context) => {
      noteAdminChange(context, { resource: `users/${userId}`, before: await repository.getUser(realm, userId) });
      if (!(await repository.deleteUser(realm, userId))) throw userNotFound(userId);
      // A deleted user's tokens stop working: its sessions end (tokens without a session expire on their own).
      let pageToken: string | undefined;
      do {
        const page = await repository.listSessions(realm, { userId, activeAt: deps.clock.now(), pageSize: 1000, ...(pageToken && { pageToken }) });
        for (const session of page.items) await deps.sessions.end(realm, session.id, "admin");
        pageToken = page.nextPageToken;
      } while (pageToken);
      return {};
    },
    listUserLinks: async ({ realm, userId }) => {
      await existing(realm, userId);
      return { links: (await repository.listLinksOfUser(realm, userId)).map(linkToMessage) };
    },
  };
}
