import { randomBytes } from "node:crypto";
import { ClientSchema } from "../../../gen/tessera/admin/v1/client_pb.js";
import { allPages, givenFields, list, printDone, printMessage, printMessages, text, yesNo, type Command, type Flag, type FlagValues } from "./command.js";

const COLUMNS = ["clientId", "enabled", "publicClient", "serviceAccount", "authMethods", "defaultScopes", "optionalScopes"];

/** Flags setting a client's fields, shared by create and update. */
const SETTINGS: Record<string, Flag> = {
  enabled: { type: "string", placeholder: "true|false", help: "whether the client may authenticate" },
  "default-scope": { type: "string", multiple: true, placeholder: "S", help: "a scope granted without asking (repeatable)" },
  "optional-scope": { type: "string", multiple: true, placeholder: "S", help: "a scope granted when asked (repeatable)" },
  "resource-uri": { type: "string", multiple: true, placeholder: "URI", help: "an RFC 8707 resource name of this client (repeatable)" },
  "jwks-uri": { type: "string", placeholder: "URL", help: "keys for private_key_jwt" },
  "token-exchange": { type: "string", placeholder: "true|false", help: "may exchange tokens (RFC 8693)" },
  "scope-policy": { type: "string", placeholder: "downscope|requester", help: "scope of exchanged tokens" },
  delegation: { type: "string", placeholder: "true|false", help: "may send an actor_token" },
  "may-act": { type: "string", placeholder: "CLIENT_ID", help: "tokens issued to this client say CLIENT_ID may act for their subject" },
};

const FIELD_OF_FLAG: Record<string, string> = {
  enabled: "enabled",
  "default-scope": "default_scopes",
  "optional-scope": "optional_scopes",
  "resource-uri": "resource_uris",
  "jwks-uri": "jwks_uri",
  "token-exchange": "token_exchange.enabled",
  "scope-policy": "token_exchange.scope_policy",
  delegation: "token_exchange.delegation",
  "may-act": "token_exchange.may_act",
};

/** The client fields the settings flags give. */
const clientSettings = (clientId: string, flags: FlagValues) => ({
  clientId,
  enabled: yesNo(flags, "enabled"),
  defaultScopes: list(flags, "default-scope"),
  optionalScopes: list(flags, "optional-scope"),
  resourceUris: list(flags, "resource-uri"),
  jwksUri: text(flags, "jwks-uri"),
  tokenExchange: {
    enabled: yesNo(flags, "token-exchange"),
    scopePolicy: text(flags, "scope-policy"),
    delegation: yesNo(flags, "delegation"),
    mayAct: text(flags, "may-act"),
  },
});

/** `tessera admin clients ...` */
export const CLIENT_COMMANDS: Command[] = [
  {
    words: "clients list",
    arguments: ["REALM"],
    summary: "a realm's clients",
    flags: {
      prefix: { type: "string", placeholder: "P", help: "only client ids starting with P" },
      enabled: { type: "string", placeholder: "true|false", help: "only enabled or only disabled clients" },
      "service-account": { type: "string", placeholder: "true|false", help: "only clients with or without a service account" },
    },
    async run([realm], context) {
      const { flags } = context;
      const clients = await allPages(async (pageToken) => {
        const page = await context.admin.listClients({ realm, clientIdPrefix: text(flags, "prefix") ?? "", enabled: yesNo(flags, "enabled"), serviceAccount: yesNo(flags, "service-account"), pageSize: 1000, pageToken });
        return { items: page.clients, nextPageToken: page.nextPageToken };
      });
      printMessages(context, ClientSchema, clients, COLUMNS);
    },
  },
  {
    words: "clients get",
    arguments: ["REALM", "CLIENT_ID"],
    summary: "one client (its secret is never shown)",
    async run([realm, clientId], context) {
      printMessage(context, ClientSchema, (await context.admin.getClient({ realm, clientId })).client);
    },
  },
  {
    words: "clients create",
    arguments: ["REALM", "CLIENT_ID"],
    summary: "register a client; a confidential one gets a generated secret, printed once",
    flags: {
      public: { type: "boolean", help: "a public client (no secret)" },
      "service-account": { type: "boolean", help: "with a service account (client_credentials)" },
      ...SETTINGS,
    },
    async run([realm, clientId], context) {
      const publicClient = context.flags.public === true;
      const secret = publicClient ? "" : randomBytes(32).toString("base64url");
      const { client } = await context.admin.createClient({
        realm,
        client: { ...clientSettings(clientId, context.flags), publicClient, secret, serviceAccount: context.flags["service-account"] === true },
      });
      printMessage(context, ClientSchema, client, publicClient ? {} : { secret });
    },
  },
  {
    words: "clients update",
    arguments: ["REALM", "CLIENT_ID"],
    summary: "change the settings given, keep the others",
    flags: SETTINGS,
    async run([realm, clientId], context) {
      const paths = givenFields(context.flags, FIELD_OF_FLAG);
      printMessage(context, ClientSchema, (await context.admin.updateClient({ realm, client: clientSettings(clientId, context.flags), updateMask: { paths } })).client);
    },
  },
  {
    words: "clients delete",
    arguments: ["REALM", "CLIENT_ID"],
    summary: "delete a client",
    async run([realm, clientId], context) {
      await context.admin.deleteClient({ realm, clientId });
      printDone(context, { clientId, deleted: true });
    },
  },
  {
    words: "clients rotate-secret",
    arguments: ["REALM", "CLIENT_ID"],
    summary: "a new secret, printed once; the old one stops working at once",
    async run([realm, clientId], context) {
      const { secret } = await context.admin.rotateClientSecret({ realm, clientId });
      printDone(context, { clientId, secret });
    },
  },
];
