import { Code, ConnectError } from "@connectrpc/connect";
import { UserLinkSchema, UserSchema, type User } from "../../../gen/tessera/admin/v1/user_pb.js";
import { allPages, attributes, givenFields, printDone, printMessage, printMessages, text, yesNo, type Command, type Context, type Flag, type FlagValues } from "./command.js";

const COLUMNS = ["id", "username", "email", "enabled"];

const SETTINGS: Record<string, Flag> = {
  email: { type: "string", placeholder: "EMAIL", help: "the user's email" },
  enabled: { type: "string", placeholder: "true|false", help: "whether tokens may be issued for the user" },
  attribute: { type: "string", multiple: true, placeholder: "NAME=VALUE", help: "an attribute value (repeatable; update replaces all)" },
};

const FIELD_OF_FLAG: Record<string, string> = { email: "email", enabled: "enabled", attribute: "attributes", username: "username" };

const userSettings = (flags: FlagValues) => ({ email: text(flags, "email"), enabled: yesNo(flags, "enabled"), attributes: attributes(flags) });

/** A user named by username, or by id when no user has that username. */
async function findUser({ admin }: Context, realm: string, user: string): Promise<User> {
  try {
    return (await admin.getUser({ realm, username: user })).user as User;
  } catch (error) {
    if (!(error instanceof ConnectError && error.code === Code.NotFound)) throw error;
    return (await admin.getUser({ realm, userId: user })).user as User;
  }
}

/** `tessera admin users ...` */
export const USER_COMMANDS: Command[] = [
  {
    words: "users list",
    arguments: ["REALM"],
    summary: "a realm's users",
    flags: {
      prefix: { type: "string", placeholder: "P", help: "only usernames starting with P" },
      email: { type: "string", placeholder: "EMAIL", help: "only users with this email" },
      enabled: { type: "string", placeholder: "true|false", help: "only enabled or only disabled users" },
    },
    async run([realm], context) {
      const { flags } = context;
      const users = await allPages(async (pageToken) => {
        const page = await context.admin.listUsers({ realm, usernamePrefix: text(flags, "prefix") ?? "", email: text(flags, "email") ?? "", enabled: yesNo(flags, "enabled"), pageSize: 1000, pageToken });
        return { items: page.users, nextPageToken: page.nextPageToken };
      });
      printMessages(context, UserSchema, users, COLUMNS);
    },
  },
  {
    words: "users get",
    arguments: ["REALM", "USER"],
    summary: "one user, by username or id",
    async run([realm, user], context) {
      printMessage(context, UserSchema, await findUser(context, realm, user));
    },
  },
  {
    words: "users create",
    arguments: ["REALM", "USERNAME"],
    summary: "create a user (a new id unless --id)",
    flags: { id: { type: "string", placeholder: "ID", help: "the user's id (default a new UUID)" }, ...SETTINGS },
    async run([realm, username], context) {
      const { user } = await context.admin.createUser({ realm, user: { id: text(context.flags, "id"), username, ...userSettings(context.flags) } });
      printMessage(context, UserSchema, user);
    },
  },
  {
    words: "users update",
    arguments: ["REALM", "USER"],
    summary: "change the fields given, keep the others (the id stays)",
    flags: { username: { type: "string", placeholder: "NAME", help: "a new username" }, ...SETTINGS },
    async run([realm, name], context) {
      const paths = givenFields(context.flags, FIELD_OF_FLAG);
      const { id } = await findUser(context, realm, name);
      const { user } = await context.admin.updateUser({ realm, user: { id, username: text(context.flags, "username"), ...userSettings(context.flags) }, updateMask: { paths } });
      printMessage(context, UserSchema, user);
    },
  },
  {
    words: "users delete",
    arguments: ["REALM", "USER"],
    summary: "delete a user, its links, and end its sessions",
    async run([realm, name], context) {
      const { id, username } = await findUser(context, realm, name);
      await context.admin.deleteUser({ realm, userId: id });
      printDone(context, { id, username, deleted: true });
    },
  },
  {
    words: "users links",
    arguments: ["REALM", "USER"],
    summary: "the user's identity-provider links (stored tokens never shown)",
    async run([realm, name], context) {
      const { id } = await findUser(context, realm, name);
      const { links } = await context.admin.listUserLinks({ realm, userId: id });
      printMessages(context, UserLinkSchema, links, ["alias", "externalUserId", "createdAt", "hasStoredToken"]);
    },
  },
];
