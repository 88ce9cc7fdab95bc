import { IdentityProviderSchema, type IdentityProvider } from "../../../gen/tessera/admin/v1/identity_provider_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { messageJson } from "../message-json.js";
import { renderRows, type Cell } from "../output.js";
import { allPages, givenFields, list, printDone, printMessage, readUserFile, text, wholeNumber, yesNo, type Command, type Flag, type FlagValues } from "./command.js";

const SETTINGS: Record<string, Flag> = {
  issuer: { type: "string", placeholder: "URL", help: "the provider's `iss`" },
  "jwks-uri": { type: "string", placeholder: "URL", help: "where its signing keys are fetched" },
  "jwks-file": { type: "string", placeholder: "FILE", help: "its signing keys as a JWKS file, in place of --jwks-uri" },
  audience: { type: "string", multiple: true, placeholder: "AUD", help: "an accepted `aud` (repeatable)" },
  algorithm: { type: "string", multiple: true, placeholder: "ALG", help: "an accepted signing algorithm (repeatable)" },
  "max-token-age": { type: "string", placeholder: "SECONDS", help: "refuse tokens older than this (0: no limit)" },
  "user-policy": { type: "string", placeholder: "create|link-existing|create-if-absent", help: "what a first token of an unknown user does" },
  "store-tokens": { type: "string", placeholder: "true|false", help: "keep the provider's token for the user" },
  enabled: { type: "string", placeholder: "true|false", help: "whether its tokens are accepted" },
};

const FIELD_OF_FLAG: Record<string, string> = {
  issuer: "issuer",
  "jwks-uri": "jwks_uri",
  "jwks-file": "jwks_json",
  audience: "audiences",
  algorithm: "algorithms",
  "max-token-age": "max_token_age",
  "user-policy": "user_policy",
  "store-tokens": "store_tokens",
  enabled: "enabled",
};

async function providerSettings(alias: string, flags: FlagValues) {
  const file = text(flags, "jwks-file");
  const jwksJson = file === undefined ? undefined : await readUserFile(file, `--jwks-file ${file}`);
  const maxTokenAge = wholeNumber(flags, "max-token-age");
  return {
    alias,
    issuer: text(flags, "issuer"),
    jwksUri: text(flags, "jwks-uri"),
    jwksJson,
    audiences: list(flags, "audience"),
    algorithms: list(flags, "algorithm"),
    maxTokenAge: maxTokenAge === undefined ? undefined : BigInt(maxTokenAge),
    userPolicy: text(flags, "user-policy"),
    storeTokens: yesNo(flags, "store-tokens"),
    enabled: yesNo(flags, "enabled"),
  };
}

/** A provider's row: its settings and the health of its key fetches (RFC 7517 JWKS). */
function providerRow(provider: IdentityProvider): Record<string, Cell> {
  const health = provider.keyHealth;
  return {
    ...messageJson(IdentityProviderSchema, provider),
    keysOk: health?.lastSuccess ? timestampDate(health.lastSuccess).toISOString() : "",
    keyError: health?.lastError ?? "",
    keyIds: health?.keyIds ?? [],
  };
}

/** `tessera admin providers ...` */
export const PROVIDER_COMMANDS: Command[] = [
  {
    words: "providers list",
    arguments: ["REALM"],
    summary: "a realm's identity providers, with the health of their key fetches",
    flags: {
      prefix: { type: "string", placeholder: "P", help: "only aliases starting with P" },
      enabled: { type: "string", placeholder: "true|false", help: "only enabled or only disabled providers" },
    },
    async run([realm], context) {
      const providers = await allPages(async (pageToken) => {
        const page = await context.admin.listIdentityProviders({ realm, aliasPrefix: text(context.flags, "prefix") ?? "", enabled: yesNo(context.flags, "enabled"), pageSize: 1000, pageToken });
        return { items: page.identityProviders, nextPageToken: page.nextPageToken };
      });
      context.print(renderRows(providers.map(providerRow), ["alias", "enabled", "issuer", "keysOk", "keyError", "keyIds"], context.output));
    },
  },
  {
    words: "providers get",
    arguments: ["REALM", "ALIAS"],
    summary: "one provider with its key health (last success, last error, key ids); secrets never shown",
    async run([realm, alias], context) {
      printMessage(context, IdentityProviderSchema, (await context.admin.getIdentityProvider({ realm, alias })).identityProvider);
    },
  },
  {
    words: "providers create",
    arguments: ["REALM", "ALIAS"],
    summary: "register an OpenID Connect identity provider whose tokens may be exchanged",
    flags: SETTINGS,
    async run([realm, alias], context) {
      const identityProvider = await providerSettings(alias, context.flags);
      printMessage(context, IdentityProviderSchema, (await context.admin.createIdentityProvider({ realm, identityProvider })).identityProvider);
    },
  },
  {
    words: "providers update",
    arguments: ["REALM", "ALIAS"],
    summary: "change the settings given, keep the others",
    flags: SETTINGS,
    async run([realm, alias], context) {
      const paths = givenFields(context.flags, FIELD_OF_FLAG);
      const identityProvider = await providerSettings(alias, context.flags);
      printMessage(context, IdentityProviderSchema, (await context.admin.updateIdentityProvider({ realm, identityProvider, updateMask: { paths } })).identityProvider);
    },
  },
  {
    words: "providers delete",
    arguments: ["REALM", "ALIAS"],
    summary: "delete a provider and its users' links",
    async run([realm, alias], context) {
      await context.admin.deleteIdentityProvider({ realm, alias });
      printDone(context, { alias, deleted: true });
    },
  },
];
