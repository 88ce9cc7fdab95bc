import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import {
  IdentityProviderSchema,
  type IdentityProvider as ProviderMessage,
} from "../../../gen/tessera/admin/v1/identity_provider_pb.js";
import type { MasterKeyCipher } from "../../crypto/master-key-cipher.js";
import {
  CLAIM_MAPPING_DEFAULTS,
  DEFAULT_PROVIDER_ALGORITHMS,
  introspectionSecretBinding,
  type IdentityProvider,
  type PublicJwk,
  type UserPolicy,
} from "../../domain/index.js";
import type { ProviderKeyCache } from "../../idp/provider-keys.js";
import { parseJwkSet } from "./convert.js";
import { validateIdentityProvider, type ValidationIssue } from "../../realm-file/index.js";
import { pageByKey } from "../../storage/paging.js";
import { etagOf, newEtag } from "../../admin/revisions.js";
import { invalidArgument, invalidField, notFound } from "./errors.js";
import { pageRequest, type AdminHandlerDeps } from "./handler-deps.js";
import { mergeUpdate } from "../field-mask.js";
import { updateVersioned } from "./updates.js";
import { noteAdminChange } from "../admin-auth.js";

/** The identity-provider methods of the AdminService. */
export type IdentityProviderMethods = Pick<
  ServiceImpl<typeof AdminService>,
  "createIdentityProvider" | "getIdentityProvider" | "listIdentityProviders" | "updateIdentityProvider" | "deleteIdentityProvider"
>;

const USER_POLICIES: readonly UserPolicy[] = ["create", "link-existing", "create-if-absent"];

/** What the identity-provider methods need. */
export interface IdentityProviderMethodDeps extends AdminHandlerDeps {
  /** Encrypts introspection client secrets. */
  cipher: MasterKeyCipher;
  /** The providers' key-fetch health, shown with them. */
  keys: ProviderKeyCache;
}

/** CRUD of identity providers; secrets encrypted on the way in and never sent back. */
export function identityProviderMethods(deps: IdentityProviderMethodDeps): IdentityProviderMethods {
  const { repository, cipher, keys, requireRealm, clock } = deps;
  const toMessage = (realm: string, provider: IdentityProvider): ProviderMessage => {
    const health = keys.health(realm, provider);
    return create(IdentityProviderSchema, {
      alias: provider.alias,
      enabled: provider.enabled,
      issuer: provider.issuer,
      jwksJson: provider.jwks ? JSON.stringify(provider.jwks) : "",
      jwksUri: provider.jwksUri ?? "",
      audiences: provider.audiences,
      algorithms: provider.algorithms,
      maxTokenAge: BigInt(provider.maxTokenAge ?? 0),
      ...(provider.introspection && {
        introspection: { endpoint: provider.introspection.endpoint, clientId: provider.introspection.clientId, hasClientSecret: true },
      }),
      claims: provider.claims,
      conditions: provider.conditions,
      userPolicy: provider.userPolicy,
      storeTokens: provider.storeTokens,
      accountLinkUrl: provider.accountLinkUrl ?? "",
      keyHealth: {
        ...(health.lastSuccess && { lastSuccess: timestampFromDate(health.lastSuccess) }),
        lastError: health.lastError ?? "",
        ...(health.lastErrorAt && { lastErrorAt: timestampFromDate(health.lastErrorAt) }),
        keyIds: health.keyIds,
      },
      etag: etagOf(provider),
    });
  };

  const fromMessage = async (realm: string, message: ProviderMessage | undefined, existing?: IdentityProvider): Promise<IdentityProvider> => {
    if (!message?.alias) throw invalidField("identity_provider.alias", "expected a non-empty string");
    const issues: ValidationIssue[] = [];
    let jwks: { keys: PublicJwk[] } | undefined;
    if (message.jwksJson) {
      jwks = parseJwkSet(message.jwksJson);
      if (!jwks) issues.push({ path: ["jwksJson"], message: 'expected a JWK Set as JSON: {"keys": [{"kty": ...}]}' });
    }
    const userPolicy = (message.userPolicy || "create") as UserPolicy;
    if (!USER_POLICIES.includes(userPolicy)) issues.push({ path: ["userPolicy"], message: `expected one of ${USER_POLICIES.join(" | ")}` });
    let introspection: IdentityProvider["introspection"];
    const given = message.introspection;
    if (given?.endpoint) {
      const encryptedClientSecret = given.clientSecret
        ? await cipher.seal(given.clientSecret, introspectionSecretBinding(realm, message.alias))
        : existing?.introspection?.encryptedClientSecret;
      if (!encryptedClientSecret) issues.push({ path: ["introspection", "clientSecret"], message: "expected a client secret" });
      else introspection = { endpoint: given.endpoint, clientId: given.clientId, encryptedClientSecret };
    }
    const provider: IdentityProvider = {
      alias: message.alias,
      enabled: message.enabled ?? true,
      issuer: message.issuer,
      ...(jwks && { jwks }),
      ...(message.jwksUri && { jwksUri: message.jwksUri }),
      audiences: message.audiences,
      algorithms: message.algorithms.length > 0 ? message.algorithms : [...DEFAULT_PROVIDER_ALGORITHMS],
      ...(message.maxTokenAge > 0n && { maxTokenAge: Number(message.maxTokenAge) }),
      ...(introspection && { introspection }),
      claims: {
        userId: message.claims?.userId || CLAIM_MAPPING_DEFAULTS.userId,
        username: message.claims?.username || CLAIM_MAPPING_DEFAULTS.username,
        email: message.claims?.email || CLAIM_MAPPING_DEFAULTS.email,
        attributes: { ...message.claims?.attributes },
      },
      conditions: message.conditions.map(({ name, expression }) => ({ name, expression })),
      userPolicy,
      storeTokens: message.storeTokens,
      ...(message.accountLinkUrl && { accountLinkUrl: message.accountLinkUrl }),
    };
    issues.push(...validateIdentityProvider(provider));
    if (issues.length > 0) throw invalidArgument("identity_provider", issues);
    return provider;
  };

  const providerNotFound = (alias: string) => notFound(`identity provider ${alias}`);

  return {
    createIdentityProvider: async ({ realm, identityProvider }, context) => {
      await requireRealm(realm);
      const provider = { ...(await fromMessage(realm, identityProvider)), etag: newEtag() };
      noteAdminChange(context, { resource: `identity-providers/${provider.alias}`, after: provider });
      await repository.createIdentityProvider(realm, provider);
      return { identityProvider: toMessage(realm, provider) };
    },
    getIdentityProvider: async ({ realm, alias }) => {
      const provider = await repository.getIdentityProvider(realm, alias);
      if (!provider) throw providerNotFound(alias);
      return { identityProvider: toMessage(realm, provider) };
    },
    listIdentityProviders: async (request) => {
      const { realm, aliasPrefix, enabled } = request;
      await requireRealm(realm);
      const shape = ["identity_providers", realm, aliasPrefix, String(enabled)];
      const page = pageByKey(await repository.listIdentityProviders(realm), pageRequest(request), shape, (p) => p.alias, (p) =>
        p.alias.startsWith(aliasPrefix) && (enabled === undefined || p.enabled === enabled),
      );
      return { identityProviders: page.items.map((p) => toMessage(realm, p)), nextPageToken: page.nextPageToken ?? "" };
    },
    updateIdentityProvider: async ({ realm, identityProvider, updateMask }, context) => {
      if (!identityProvider?.alias) throw invalidField("identity_provider.alias", "expected a non-empty string");
      const alias = identityProvider.alias;
      const { before, after } = await updateVersioned(repository, clock, {
        realm,
        kind: "identity_provider",
        key: alias,
        etag: identityProvider.etag,
        read: () => repository.getIdentityProvider(realm, alias),
        apply: (existing) => {
          const outputOnly = ["key_health", "etag", "introspection.has_client_secret"];
          return fromMessage(realm, mergeUpdate(IdentityProviderSchema, toMessage(realm, existing), identityProvider, updateMask, outputOnly), existing);
        },
        write: (next) => repository.updateIdentityProvider(realm, next),
        notFound: () => providerNotFound(alias),
      });
      noteAdminChange(context, { resource: `identity-providers/${alias}`, before, after });
      return { identityProvider: toMessage(realm, after) };
    },
    deleteIdentityProvider: async ({ realm, alias }, context) => {
      noteAdminChange(context, { resource: `identity-providers/${alias}`, before: await repository.getIdentityProvider(realm, alias) });
      if (!(await repository.deleteIdentityProvider(realm, alias))) throw providerNotFound(alias);
      return {};
    },
  };
}
