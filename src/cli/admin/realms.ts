import { RealmSchema } from "../../../gen/tessera/admin/v1/realm_pb.js";
import { allPages, givenFields, printDone, printMessage, printMessages, text, wholeNumber, yesNo, type Command, type Flag, type FlagValues } from "./command.js";

const COLUMNS = ["name", "enabled", "signingAlgorithm", "accessTokenLifespan"];

/** Flags setting a realm's fields, shared by create and update. */
const SETTINGS: Record<string, Flag> = {
  enabled: { type: "string", placeholder: "true|false", help: "whether tokens are issued" },
  "access-token-lifespan": { type: "string", placeholder: "SECONDS", help: "lifetime of issued access tokens" },
  "refresh-token-lifespan": { type: "string", placeholder: "SECONDS", help: "lifetime of issued refresh tokens" },
  "session-idle-timeout": { type: "string", placeholder: "SECONDS", help: "a session ends after this long unused" },
  "session-max-lifespan": { type: "string", placeholder: "SECONDS", help: "a session ends this long after it started" },
  "max-delegation-depth": { type: "string", placeholder: "N", help: "at most this many nested actors" },
  algorithm: { type: "string", placeholder: "ES256|RS256|PS256|EdDSA", help: "signing algorithm" },
};

/** Proto field of each settings flag (the update mask's paths). */
const FIELD_OF_FLAG: Record<string, string> = {
  enabled: "enabled",
  "access-token-lifespan": "access_token_lifespan",
  "refresh-token-lifespan": "refresh_token_lifespan",
  "session-idle-timeout": "session_idle_timeout",
  "session-max-lifespan": "session_max_lifespan",
  "max-delegation-depth": "max_delegation_depth",
  algorithm: "signing_algorithm",
};

const seconds = (flags: FlagValues, name: string) => {
  const value = wholeNumber(flags, name);
  return value === undefined ? undefined : BigInt(value);
};

/** The realm fields the settings flags give. */
const realmSettings = (name: string, flags: FlagValues) => ({
  name,
  enabled: yesNo(flags, "enabled"),
  accessTokenLifespan: seconds(flags, "access-token-lifespan"),
  refreshTokenLifespan: seconds(flags, "refresh-token-lifespan"),
  sessionIdleTimeout: seconds(flags, "session-idle-timeout"),
  sessionMaxLifespan: seconds(flags, "session-max-lifespan"),
  maxDelegationDepth: wholeNumber(flags, "max-delegation-depth"),
  signingAlgorithm: text(flags, "algorithm"),
});

/** `tessera admin realms ...` */
export const REALM_COMMANDS: Command[] = [
  {
    words: "realms list",
    arguments: [],
    summary: "realms the token may read",
    flags: { prefix: { type: "string", placeholder: "P", help: "only names starting with P" } },
    async run(_args, context) {
      const realms = await allPages(async (pageToken) => {
        const page = await context.admin.listRealms({ namePrefix: text(context.flags, "prefix") ?? "", pageSize: 1000, pageToken });
        return { items: page.realms, nextPageToken: page.nextPageToken };
      });
      printMessages(context, RealmSchema, realms, COLUMNS);
    },
  },
  {
    words: "realms get",
    arguments: ["NAME"],
    summary: "one realm's settings",
    async run([name], context) {
      printMessage(context, RealmSchema, (await context.admin.getRealm({ name })).realm);
    },
  },
  {
    words: "realms create",
    arguments: ["NAME"],
    summary: "create an empty realm (needs the admin scope); unset settings take the defaults",
    flags: SETTINGS,
    async run([name], context) {
      printMessage(context, RealmSchema, (await context.admin.createRealm({ realm: realmSettings(name, context.flags) })).realm);
    },
  },
  {
    words: "realms update",
    arguments: ["NAME"],
    summary: "change the settings given, keep the others",
    flags: SETTINGS,
    async run([name], context) {
      const paths = givenFields(context.flags, FIELD_OF_FLAG);
      printMessage(context, RealmSchema, (await context.admin.updateRealm({ realm: realmSettings(name, context.flags), updateMask: { paths } })).realm);
    },
  },
  {
    words: "realms delete",
    arguments: ["NAME"],
    summary: "delete a realm and everything in it",
    async run([name], context) {
      await context.admin.deleteRealm({ name });
      printDone(context, { name, deleted: true });
    },
  },
];
