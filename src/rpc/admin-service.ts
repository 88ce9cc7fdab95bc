import { randomUUID } from "node:crypto";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import type { Client as ClientMessage } from "../../gen/tessera/admin/v1/client_pb.js";
import type { Realm as RealmMessage } from "../../gen/tessera/admin/v1/realm_pb.js";
import type { Scope as ScopeMessage } from "../../gen/tessera/admin/v1/scope_pb.js";
import { hashClientSecret } from "../crypto/client-secrets.js";
import {
  CLIENT_AUTH_METHODS,
  REALM_DEFAULTS,
  TOKEN_EXCHANGE_DEFAULTS,
  AUDIT_EVENT_KINDS,
  type AuditEvent,
  type AuditEventKind,
  type Client,
  type ClientAuthMethod,
  type Clock,
  type PublicJwk,
  type Realm,
  type Scope,
  type SigningAlgorithm,
} from "../domain/index.js";
import type { Logger } from "../ops/logger.js";
import { validateClient, validateRealm, validateScope, type ValidationIssue } from "../realm-file/index.js";
import { create } from "@bufbuild/protobuf";
import {
  InvalidPageTokenError,
  StorageConflictError,
  StorageNotFoundError,
  type RealmRepository,
} from "../storage/realm-repository.js";
import { clientToMessage, eventToMessage, parseJwkSet, realmToMessage, scopeToMessage, sessionToMessage } from "./admin-convert.js";
import { toConnectError } from "./errors.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { AuditLog } from "../exchange/audit-log.js";
import type { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import type { ProviderKeyCache } from "../idp/provider-keys.js";
import { identityProviderMethods } from "./admin-identity-providers.js";
import { userMethods } from "./admin-users.js";
import { signingKeyMethods } from "./admin-keys.js";
import { realmFileMethods } from "./admin-realm-files.js";
import type { RealmKeyStore } from "../tokens/realm-keys.js";
import { pageByKey } from "../storage/paging.js";
import { randomBytes } from "node:crypto";
import type { SessionManager } from "../exchange/sessions.js";
import { allows, MASTER_REALM } from "../admin/admin-access.js";
import type { AdminTokenAuthenticator } from "../admin/admin-authenticator.js";
import { adminPrincipalOf, authorizeAdminService, noteAdminChange } from "./admin-auth.js";
import { invalidArgument, invalidField } from "./admin-errors.js";
import { updateVersioned } from "./admin-updates.js";
import { mergeUpdate } from "./field-mask.js";
import { newEtag } from "../admin/revisions.js";
import { ClientSchema } from "../../gen/tessera/admin/v1/client_pb.js";
import { RealmSchema } from "../../gen/tessera/admin/v1/realm_pb.js";
import { ScopeSchema } from "../../gen/tessera/admin/v1/scope_pb.js";

/** Page size when a listing asks for none. */
const DEFAULT_PAGE_SIZE = 100;

/** Paging of an admin listing request (page size clamped to 1..1000 by the repository). */
function pageOf(request: { pageSize: number; pageToken: string }): { pageSize: number; pageToken?: string } {
  return { pageSize: request.pageSize > 0 ? request.pageSize : DEFAULT_PAGE_SIZE, ...(request.pageToken && { pageToken: request.pageToken }) };
}

/** Refuses a request whose object breaks a rule, naming the field (and a google.rpc.BadRequest detail). */
const invalid = invalidArgument;

const required = (value: string, field: string): string => {
  if (value === "") throw invalidField(field, "expected a non-empty string");
  return value;
};

/** Fields of the admin messages that a request cannot set. */
const OUTPUT_ONLY = {
  realm: ["etag"],
  client: ["etag", "has_secret", "service_account_user_id"],
  scope: ["etag"],
} as const;

/**
 * The AdminService implementation: CRUD of realms, clients and scopes over the repository, with
 * the same rules as realm files. Every call is authenticated with a master-realm bearer token and
 * authorized by its admin scopes (see `admin-auth.ts`).
 */
export class AdminRpc {
  constructor(
    private readonly repository: RealmRepository,
    private readonly sessions: SessionManager,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly providers: { cipher: MasterKeyCipher; keys: ProviderKeyCache },
    private readonly authenticator: AdminTokenAuthenticator,
    private readonly signingKeys: RealmKeyStore,
  ) {}

  /** The Connect service implementation; storage failures become gRPC codes. */
  serviceImpl(): ServiceImpl<typeof AdminService> {
    const r = this.repository;
    return this.#guarded(authorizeAdminService(this.#guarded({
      ...identityProviderMethods(r, this.providers.cipher, this.providers.keys, (name) => this.#realm(name), this.clock),
      ...userMethods({ repository: r, sessions: this.sessions, clock: this.clock, requireRealm: (name) => this.#realm(name), pageOf }),
      ...signingKeyMethods({ repository: r, keys: this.signingKeys, clock: this.clock, requireRealm: (name) => this.#realm(name) }),
      ...realmFileMethods({
        repository: r,
        cipher: this.providers.cipher,
        realmChanged: async (before, after) => {
          if (before.signingAlgorithm !== after.signingAlgorithm) await this.signingKeys.rotate(after);
        },
      }),
      createRealm: async ({ realm }, context) => {
        const created = { ...this.#realmFrom(realm), etag: newEtag() };
        noteAdminChange(context, { resource: `realms/${created.name}`, after: created });
        await r.createRealm(created);
        this.log.info({ realm: created.name }, "realm created");
        return { realm: realmToMessage(created) };
      },
      getRealm: async ({ name }) => ({ realm: realmToMessage(await this.#realm(name)) }),
      listRealms: async (request, context) => {
        const { scopes } = adminPrincipalOf(context);
        const { namePrefix } = request;
        const page = pageByKey(await r.listRealms(), pageOf(request), ["realms", namePrefix], (realm) => realm.name, (realm) =>
          realm.name.startsWith(namePrefix) && allows(scopes, "read", realm.name),
        );
        return { realms: page.items.map(realmToMessage), nextPageToken: page.nextPageToken ?? "" };
      },
      updateRealm: async ({ realm, updateMask }, context) => {
        const name = required(realm?.name ?? "", "realm.name");
        const { before, after } = await updateVersioned(r, this.clock, {
          realm: name,
          kind: "realm",
          key: name,
          etag: realm?.etag ?? "",
          read: () => r.getRealm(name),
          apply: async (existing) => this.#realmFrom(mergeUpdate(RealmSchema, realmToMessage(existing), realm ?? create(RealmSchema), updateMask, OUTPUT_ONLY.realm)),
          write: (next) => r.updateRealm(next),
          notFound: () => notFound(`realm ${name}`),
        });
        noteAdminChange(context, { resource: `realms/${name}`, before, after });
        // A new algorithm: a new key signs from now on; the old one verifies until its tokens expire.
        if (before.signingAlgorithm !== after.signingAlgorithm) await this.signingKeys.rotate(after);
        return { realm: realmToMessage(after) };
      },
      deleteRealm: async ({ name }, context) => {
        // The master realm holds the admin clients: deleting it would lock every administrator out.
        if (name === MASTER_REALM) throw new ConnectError("the master realm cannot be deleted", Code.FailedPrecondition);
        noteAdminChange(context, { resource: `realms/${name}`, before: await r.getRealm(name) });
        if (!(await r.deleteRealm(name))) throw notFound(`realm ${name}`);
        this.log.info({ realm: name }, "realm deleted");
        return {};
      },

      createClient: async ({ realm, client }, context) => {
        await this.#realm(realm);
        const created = { ...(await this.#clientFrom(realm, client, undefined)), etag: newEtag() };
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
        await this.#realm(realm);
        const shape = ["clients", realm, clientIdPrefix, String(enabled), String(serviceAccount)];
        const page = pageByKey(await r.listClients(realm), pageOf(request), shape, (c) => c.clientId, (c) =>
          c.clientId.startsWith(clientIdPrefix) &&
          (enabled === undefined || c.enabled === enabled) &&
          (serviceAccount === undefined || c.serviceAccount === serviceAccount),
        );
        return { clients: page.items.map(clientToMessage), nextPageToken: page.nextPageToken ?? "" };
      },
      updateClient: async ({ realm, client, updateMask }, context) => {
        const clientId = required(client?.clientId ?? "", "client.client_id");
        const { before, after } = await updateVersioned(r, this.clock, {
          realm,
          kind: "client",
          key: clientId,
          etag: client?.etag ?? "",
          read: () => r.getClient(realm, clientId),
          apply: (existing) =>
            this.#clientFrom(realm, mergeUpdate(ClientSchema, clientToMessage(existing), client ?? create(ClientSchema), updateMask, OUTPUT_ONLY.client), existing),
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
        const { before, after } = await updateVersioned(r, this.clock, {
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
        this.log.info({ realm, clientId }, "client secret rotated");
        return { secret, client: clientToMessage(after) };
      },

      createScope: async ({ realm, scope }, context) => {
        await this.#realm(realm);
        const created = { ...(await this.#scopeFrom(realm, scope)), etag: newEtag() };
        noteAdminChange(context, { resource: `scopes/${created.name}`, after: created });
        await r.createScope(realm, created);
        return { scope: scopeToMessage(created) };
      },
      getScope: async ({ realm, name }) => {
        const scope = await r.getScope(realm, name);
        if (!scope) throw notFound(`scope ${name}`);
        return { scope: scopeToMessage(scope) };
      },
      listScopes: async (request) => {
        const { realm, namePrefix } = request;
        await this.#realm(realm);
        const page = pageByKey(await r.listScopes(realm), pageOf(request), ["scopes", realm, namePrefix], (s) => s.name, (s) =>
          s.name.startsWith(namePrefix),
        );
        return { scopes: page.items.map(scopeToMessage), nextPageToken: page.nextPageToken ?? "" };
      },
      updateScope: async ({ realm, scope, updateMask }, context) => {
        const name = required(scope?.name ?? "", "scope.name");
        const { before, after } = await updateVersioned(r, this.clock, {
          realm,
          kind: "scope",
          key: name,
          etag: scope?.etag ?? "",
          read: () => r.getScope(realm, name),
          apply: (existing) => this.#scopeFrom(realm, mergeUpdate(ScopeSchema, scopeToMessage(existing), scope ?? create(ScopeSchema), updateMask, OUTPUT_ONLY.scope)),
          write: (next) => r.updateScope(realm, next),
          notFound: () => notFound(`scope ${name}`),
        });
        noteAdminChange(context, { resource: `scopes/${name}`, before, after });
        return { scope: scopeToMessage(after) };
      },
      deleteScope: async ({ realm, name }, context) => {
        noteAdminChange(context, { resource: `scopes/${name}`, before: await r.getScope(realm, name) });
        if (!(await r.deleteScope(realm, name))) throw notFound(`scope ${name}`);
        return {};
      },

      listSessions: async (request) => {
        await this.#realm(request.realm);
        const now = this.clock.now();
        const page = await r.listSessions(request.realm, {
          ...pageOf(request),
          ...(request.userId && { userId: request.userId }),
          ...(request.activeOnly && { activeAt: now }),
        });
        return { sessions: page.items.map((s) => sessionToMessage(s, now)), nextPageToken: page.nextPageToken ?? "" };
      },
      endSession: async ({ realm, sessionId }, context) => {
        await this.#realm(realm);
        noteAdminChange(context, { resource: `sessions/${sessionId}` });
        if (!(await this.sessions.end(realm, sessionId, "admin"))) throw notFound(`active session ${sessionId}`);
        return {};
      },
      listEvents: async (request) => {
        await this.#realm(request.realm);
        await this.audit.flush();
        if (request.kind && !AUDIT_EVENT_KINDS.includes(request.kind as AuditEventKind)) {
          throw new ConnectError(`kind: expected one of ${AUDIT_EVENT_KINDS.join(" | ")}`, Code.InvalidArgument);
        }
        if (request.result && request.result !== "success" && request.result !== "failure") {
          throw new ConnectError("result: expected success | failure", Code.InvalidArgument);
        }
        const page = await r.listEvents(request.realm, {
          ...pageOf(request),
          ...(request.kind && { kind: request.kind as AuditEventKind }),
          ...(request.clientId && { clientId: request.clientId }),
          ...(request.subject && { subject: request.subject }),
          ...(request.result && { result: request.result as AuditEvent["result"] }),
          ...(request.since && { since: timestampDate(request.since) }),
          ...(request.until && { until: timestampDate(request.until) }),
        });
        return { events: page.items.map(eventToMessage), nextPageToken: page.nextPageToken ?? "" };
      },
    }), this.authenticator, this.audit));
  }

  async #realm(name: string): Promise<Realm> {
    const realm = await this.repository.getRealm(name);
    if (!realm) throw notFound(`realm ${name}`);
    return realm;
  }

  #realmFrom(message: RealmMessage | undefined): Realm {
    const realm: Realm = {
      name: required(message?.name ?? "", "realm.name"),
      enabled: message?.enabled ?? REALM_DEFAULTS.enabled,
      accessTokenLifespan: Number(message?.accessTokenLifespan || REALM_DEFAULTS.accessTokenLifespan),
      refreshTokenLifespan: Number(message?.refreshTokenLifespan || REALM_DEFAULTS.refreshTokenLifespan),
      signingAlgorithm: (message?.signingAlgorithm || REALM_DEFAULTS.signingAlgorithm) as SigningAlgorithm,
      sessionIdleTimeout: Number(message?.sessionIdleTimeout || REALM_DEFAULTS.sessionIdleTimeout),
      sessionMaxLifespan: Number(message?.sessionMaxLifespan || REALM_DEFAULTS.sessionMaxLifespan),
      maxDelegationDepth: message?.maxDelegationDepth || REALM_DEFAULTS.maxDelegationDepth,
    };
    const issues = validateRealm(realm);
    if (issues.length > 0) throw invalid("realm", issues);
    return realm;
  }

  async #clientFrom(realm: string, message: ClientMessage | undefined, existing: Client | undefined): Promise<Client> {
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
      clientId: required(message.clientId, "client.clientId"),
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
    const scopes = await this.repository.listScopes(realm);
    const claimed = new Map<string, string>();
    const clients = await this.repository.listClients(realm);
    const clientIds = new Set([client.clientId, ...clients.map((c) => c.clientId)]);
    for (const other of clients) {
      if (other.clientId === client.clientId) continue;
      for (const uri of other.resourceUris) claimed.set(uri, other.clientId);
    }
    issues.push(...validateClient(client, {
        scopeNames: new Set(scopes.map((s) => s.name)),
        clientIds,
        providerAliases: new Set((await this.repository.listIdentityProviders(realm)).map((p) => p.alias)),
        claimedResourceUris: claimed,
      }));
    if (issues.length > 0) throw invalid("client", issues);
    return client;
  }

  async #scopeFrom(realm: string, message: ScopeMessage | undefined): Promise<Scope> {
    const scope: Scope = {
      name: required(message?.name ?? "", "scope.name"),
      audiences: message?.audiences ?? [],
      ...(message?.description && { description: message.description }),
    };
    const clientIds = new Set((await this.repository.listClients(realm)).map((c) => c.clientId));
    const issues = validateScope(scope, { clientIds });
    if (issues.length > 0) throw invalid("scope", issues);
    return scope;
  }

  /** Wraps every method so storage failures become the matching gRPC code. */
  #guarded(impl: ServiceImpl<typeof AdminService>): ServiceImpl<typeof AdminService> {
    const wrapped: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(impl) as [string, (req: unknown, ctx: unknown) => Promise<unknown>][]) {
      wrapped[name] = async (req: unknown, ctx: unknown) => {
        try {
          return await method(req, ctx);
        } catch (error) {
          throw this.#toConnectError(error);
        }
      };
    }
    return wrapped as ServiceImpl<typeof AdminService>;
  }

  #toConnectError(error: unknown): ConnectError {
    if (error instanceof ConnectError) return error;
    if (error instanceof StorageConflictError) return new ConnectError(error.message, Code.AlreadyExists);
    if (error instanceof StorageNotFoundError) return new ConnectError(error.message, Code.NotFound);
    if (error instanceof InvalidPageTokenError) return new ConnectError("page_token: invalid", Code.InvalidArgument);
    // Unreachable storage and unexpected failures: as the token service answers them (logged with an id).
    return toConnectError(error, this.log);
  }
}

function notFound(what: string): ConnectError {
  return new ConnectError(`${what} not found`, Code.NotFound);
}

/** Like realm files: secret -> the two secret methods; keys -> private_key_jwt. */
function defaultAuthMethods(message: ClientMessage, existing: Client | undefined): ClientAuthMethod[] {
  if (message.jwksJson !== "" || message.jwksUri !== "") return ["private_key_jwt"];
  if (message.tlsClientAuthSubjectDn !== "") return ["tls_client_auth"];
  if (message.secret !== "" || existing?.secretHash) return ["client_secret_basic", "client_secret_post"];
  return [];
}
