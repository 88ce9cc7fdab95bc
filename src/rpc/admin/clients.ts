import { randomBytes, randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { ClientSchema, type Client as ClientMessage } from "../../../gen/tessera/admin/v1/client_pb.js";
import { newEtag } from "../../admin/revisions.js";
import { hashClientSecret } from "../../crypto/client-secrets.js";
import {
  CLIENT_AUTH_METHODS,
  TOKEN_EXCHANGE_DEFAULTS,
  type Client,
  type ClientAuthMethod,
  type PublicJwk,
} from "../../domain/index.js";
import type { Logger } from "../../ops/logger.js";
import { validateClient, type ValidationIssue } from "../../realm-file/index.js";
import { pageByKey } from "../../storage/paging.js";
import type { RealmRepository } from "../../storage/realm-repository.js";
import { noteAdminChange } from "../admin-auth.js";
import { mergeUpdate } from "../field-mask.js";
import { clientToMessage, parseJwkSet } from "./convert.js";
import { invalidArgument, notFound, requiredField } from "./errors.js";
import { pageRequest, type AdminHandlerDeps } from "./handler-deps.js";
import { updateVersioned } from "./updates.js";

/** The client methods of the AdminService. */
export type ClientMethods = Pick<
  ServiceImpl<typeof AdminService>,
  "createClient" | "getClient" | "listClients" | "updateClient" | "deleteClient" | "rotateClientSecret"
>;

/** What the client methods need. */
export interface ClientMethodDeps extends AdminHandlerDeps {
  log: Logger;
}

/** Fields of the client message that a request cannot set. */
const OUTPUT_ONLY = ["etag", "has_secret", "service_account_user_id"];

/** Like realm files: secret -> the two secret methods; keys -> private_key_jwt. */
function defaultAuthMethods(message: ClientMessage, existing: Client | undefined): ClientAuthMethod[] {
  if (message.jwksJson !== "" || message.jwksUri !== "") return ["private_key_jwt"];
  if (message.tlsClientAuthSubjectDn !== "") return ["tls_client_auth"];
  if (message.secret !== "" || existing?.secretHash) return ["client_secret_basic", "client_secret_post"];
  return [];
}

/**
 * The client a request message describes (a new secret hashed, the existing one kept otherwise);
 * INVALID_ARGUMENT if it breaks a rule of realm files against the realm's scopes, clients and providers.
 */
async function clientFrom(repository: RealmRepository, realm: string, message: ClientMessage | undefined, existing: Client | undefined): Promise<Client> {
  if (!message) throw new ConnectError("client: required", Code.InvalidArgument);
  const issues: ValidationIssue[] = [];
  const authMethods = message.authMethods.filter((m): m is ClientAuthMethod => {
    const known = (CLIENT_AUTH_METHODS as readonly string[]).includes(m);
    if (!known) issues.push({ path: ["authMethods"], message: `expected one of ${CLIENT_AUTH_METHODS.join(" | ")}` });
    return known;
  });
  const exchange = message.tokenExchange;
  const refreshTokens = exchange?.refreshTokens || TOKEN_EXCHANGE_DEFAULTS.refreshTokens;
  const scopePolicy = exchange?.scopePolicy || TOKEN_EXCHANGE_DEFAULTS.scopePolicy;
  if (refreshTokens !== "none" && refreshTokens !== "same_session") {
    issues.push({ path: ["tokenExchange", "refreshTokens"], message: "expected one of none | same_session" });
  }
  if (scopePolicy !== "downscope" && scopePolicy !== "requester") {
    issues.push({ path: ["tokenExchange", "scopePolicy"], message: "expected one of downscope | requester" });
  }
  let jwks: { keys: PublicJwk[] } | undefined;
  if (message.jwksJson !== "") {
    jwks = parseJwkSet(message.jwksJson);
    if (!jwks) issues.push({ path: ["jwksJson"], message: 'expected a JWK Set as JSON: {"keys": [{"kty": ...}]}' });
  }
  const client: Client = {
    clientId: requiredField(message.clientId, "client.clientId"),
    enabled: message.enabled ?? true,
    publicClient: message.publicClient,
    authMethods: message.publicClient || authMethods.length > 0 ? authMethods : defaultAuthMethods(message, existing),
    secretHash: message.secret !== "" ? await hashClientSecret(message.secret) : existing?.secretHash,
    jwks,
    jwksUri: message.jwksUri || undefined,
    ...(message.tlsClientAuthSubjectDn && { tlsClientAuthSubjectDn: message.tlsClientAuthSubjectDn }),
    ...(message.certificateBoundAccessTokens && { certificateBoundAccessTokens: true }),
    serviceAccount: message.serviceAccount,
    serviceAccountUserId: existing?.serviceAccountUserId ?? randomUUID(),
    defaultScopes: message.defaultScopes,
    optionalScopes: message.optionalScopes,
    resourceUris: message.resourceUris,
    tokenExchange: {
      enabled: exchange?.enabled ?? false,
      refreshTokens,
      scopePolicy,
      delegation: exchange?.delegation ?? false,
      identityProviders: exchange?.identityProviders ?? [],
      ...(exchange?.mayAct && { mayAct: exchange.mayAct }),
      ...(exchange?.impersonation && {
        impersonation: {
          allUsers: exchange.impersonation.allUsers,
          users: exchange.impersonation.users,
          ...(exchange.impersonation.userAttribute && {
            userAttribute: { name: exchange.impersonation.userAttribute.name, value: exchange.impersonation.userAttribute.value },
          }),
        },
      }),
    } as Client["tokenExchange"],
  };
  const scopes = await repository.listScopes(realm);
  const claimed = new Map<string, string>();
  const clients = await repository.listClients(realm);
  const clientIds = new Set([client.clientId, ...clients.map((c) => c.clientId)]);
  for (const other of clients) {
    if (other.clientId === client.clientId) continue;
    for (const uri of other.resourceUris) claimed.set(uri, other.clientId);
  }
  issues.push(...validateClient(client, {
      scopeNames: new Set(scopes.map((s) => s.name)),
      clientIds,
      providerAliases: new Set((await repository.listIdentityProviders(realm)).map((p) => p.alias)),
      claimedResourceUris: claimed,
    }));
  if (issues.length > 0) throw invalidArgument("client", issues);
  return client;
}

/** CRUD of a realm's clients, and rotation of a confidential client's secret. */
export function clientMethods(deps: ClientMethodDeps): ClientMethods {
  const { repository: r, clock, log, requireRealm } = deps;
  return {
    createClient: async ({ realm, client }, context) => {
      await requireRealm(realm);
      const created = { ...(await clientFrom(r, realm, client, undefined)), etag: newEtag() };
      noteAdminChange(context, { resource: `clients/${created.clientId}`, after: created });
      await r.createClient(realm, created);
      return { client: clientToMessage(created) };
    },
    getClient: async ({ realm, clientId }) => {
      const client = await r.getClient(realm, clientId);
      if (!client) throw notFound(`client ${clientId}`);
      return { client: clientToMessage(client) };
    },
    listClients: async (request) => {
      const { realm, clientIdPrefix, enabled, serviceAccount } = request;
      await requireRealm(realm);
      const shape = ["clients", realm, clientIdPrefix, String(enabled), String(serviceAccount)];
      const page = pageByKey(await r.listClients(realm), pageRequest(request), shape, (c) => c.clientId, (c) =>
        c.clientId.startsWith(clientIdPrefix) &&
        (enabled === undefined || c.enabled === enabled) &&
        (serviceAccount === undefined || c.serviceAccount === serviceAccount),
      );
      return { clients: page.items.map(clientToMessage), nextPageToken: page.nextPageToken ?? "" };
    },
    updateClient: async ({ realm, client, updateMask }, context) => {
      const clientId = requiredField(client?.clientId ?? "", "client.client_id");
      const { before, after } = await updateVersioned(r, clock, {
        realm,
        kind: "client",
        key: clientId,
        etag: client?.etag ?? "",
        read: () => r.getClient(realm, clientId),
        apply: (existing) =>
          clientFrom(r, realm, mergeUpdate(ClientSchema, clientToMessage(existing), client ?? create(ClientSchema), updateMask, OUTPUT_ONLY), existing),
        write: (next) => r.updateClient(realm, next),
        notFound: () => notFound(`client ${clientId}`),
      });
      noteAdminChange(context, { resource: `clients/${clientId}`, before, after });
      return { client: clientToMessage(after) };
    },
    deleteClient: async ({ realm, clientId }, context) => {
      noteAdminChange(context, { resource: `clients/${clientId}`, before: await r.getClient(realm, clientId) });
      if (!(await r.deleteClient(realm, clientId))) throw notFound(`client ${clientId}`);
      return {};
    },
    rotateClientSecret: async ({ realm, clientId }, context) => {
      const secret = randomBytes(32).toString("base64url");
      const { before, after } = await updateVersioned(r, clock, {
        realm,
        kind: "client",
        key: clientId,
        etag: "",
        read: () => r.getClient(realm, clientId),
        apply: async (existing): Promise<Client> => {
          // RFC 6749 §2.1: a public client holds no credentials.
          if (existing.publicClient) throw new ConnectError(`client ${clientId} is public: it has no secret`, Code.FailedPrecondition);
          const secretMethods = existing.authMethods.filter((m) => m !== "private_key_jwt");
          return {
            ...existing,
            secretHash: await hashClientSecret(secret),
            // A client that had no secret method gets both, so that the new secret can be used.
            authMethods: secretMethods.length > 0 ? existing.authMethods : [...existing.authMethods, "client_secret_basic", "client_secret_post"],
          };
        },
        write: (next) => r.updateClient(realm, next),
        notFound: () => notFound(`client ${clientId}`),
      });
      noteAdminChange(context, { resource: `clients/${clientId}/secret`, before, after });
      log.info({ realm, clientId }, "client secret rotated");
      return { secret, client: clientToMessage(after) };
    },
  };
}
