import { ScopeSchema } from "../../../gen/tessera/admin/v1/scope_pb.js";
import { allPages, givenFields, list, printDone, printMessage, printMessages, text, type Command, type Flag, type FlagValues } from "./command.js";

const SETTINGS: Record<string, Flag> = {
  audience: { type: "string", multiple: true, placeholder: "AUD", help: "an audience tokens with the scope get (repeatable; update replaces all)" },
  description: { type: "string", placeholder: "TEXT", help: "what the scope is for" },
};

const scopeSettings = (name: string, flags: FlagValues) => ({ name, audiences: list(flags, "audience"), description: text(flags, "description") });

/** `tessera admin scopes ...` */
export const SCOPE_COMMANDS: Command[] = [
  {
    words: "scopes list",
    arguments: ["REALM"],
    summary: "a realm's scopes",
    flags: { prefix: { type: "string", placeholder: "P", help: "only names starting with P" } },
    async run([realm], context) {
      const scopes = await allPages(async (pageToken) => {
        const page = await context.admin.listScopes({ realm, namePrefix: text(context.flags, "prefix") ?? "", pageSize: 1000, pageToken });
        return { items: page.scopes, nextPageToken: page.nextPageToken };
      });
      printMessages(context, ScopeSchema, scopes, ["name", "audiences", "description"]);
    },
  },
  {
    words: "scopes get",
    arguments: ["REALM", "NAME"],
    summary: "one scope",
    async run([realm, name], context) {
      printMessage(context, ScopeSchema, (await context.admin.getScope({ realm, name })).scope);
    },
  },
  {
    words: "scopes create",
    arguments: ["REALM", "NAME"],
    summary: "create a scope",
    flags: SETTINGS,
    async run([realm, name], context) {
      printMessage(context, ScopeSchema, (await context.admin.createScope({ realm, scope: scopeSettings(name, context.flags) })).scope);
    },
  },
  {
    words: "scopes update",
    arguments: ["REALM", "NAME"],
    summary: "change the fields given, keep the others",
    flags: SETTINGS,
    async run([realm, name], context) {
      const paths = givenFields(context.flags, { audience: "audiences", description: "description" });
      printMessage(context, ScopeSchema, (await context.admin.updateScope({ realm, scope: scopeSettings(name, context.flags), updateMask: { paths } })).scope);
    },
  },
  {
    words: "scopes delete",
    arguments: ["REALM", "NAME"],
    summary: "delete a scope",
    async run([realm, name], context) {
      await context.admin.deleteScope({ realm, name });
      printDone(context, { name, deleted: true });
    },
  },
];
