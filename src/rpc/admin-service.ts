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
import type { Logger } from "../logger.js";
import { formatIssue, validateClient, validateRealm, validateScope, type ValidationIssue } from "../realm-file/index.js";
import {
  InvalidPageTokenError,
  StorageConflictError,
  StorageNotFoundError,
  StorageUnavailableError,
  type RealmRepository,
} from "../storage/realm-repository.js";
import { clientToMessage, eventToMessage, realmToMessage, scopeToMessage, sessionToMessage } from "./admin-convert.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { AuditLog } from "../exchange/audit-log.js";
import type { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import type { ProviderKeyCache } from "../idp/provider-keys.js";
import { identityProviderMethods } from "./admin-identity-providers.js";
import type { SessionManager } from "../exchange/sessions.js";
import { allows } from "../admin/admin-access.js";
import type { AdminTokenAuthenticator } from "../admin/admin-authenticator.js";
import { adminPrincipalOf, authorizeAdminService } from "./admin-auth.js";

/** Page size when a listing asks for none. */
const DEFAULT_PAGE_SIZE = 100;

/** Paging of an admin listing request (page size clamped to 1..1000 by the repository). */
function pageOf(request: { pageSize: number; pageToken: string }): { pageSize: number; pageToken?: string } {
  return { pageSize: request.pageSize > 0 ? request.pageSize : DEFAULT_PAGE_SIZE, ...(request.pageToken && { pageToken: request.pageToken }) };
}

/** Refuses a request whose object breaks a rule, naming the field. */
function invalid(prefix: string, issues: ValidationIssue[]): ConnectError {
  return new ConnectError(issues.map((i) => `${prefix}.${formatIssue(i)}`).join("; "), Code.InvalidArgument);
}

const required = (value: string, field: string): string => {
  if (value === "") throw new ConnectError(`${field}: expected a non-empty string`, Code.InvalidArgument);
  return value;
};

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
  ) {}

  /** The Connect service implementation; storage failures become gRPC codes. */
  serviceImpl(): ServiceImpl<typeof AdminService> {
    const r = this.repository;
    return this.#guarded(authorizeAdminService({
      ...identityProviderMethods(r, this.providers.cipher, this.providers.keys, (name) => this.#realm(name)),
      createRealm: async ({ realm }) => {
        const created = this.#realmFrom(realm);
        await r.createRealm(created);
        this.log.info({ realm: created.name }, "realm created");
        return { realm: realmToMessage(created) };
      },
      getRealm: async ({ name }) => ({ realm: realmToMessage(await this.#realm(name)) }),
      listRealms: async (_request, context) => {
        const { scopes } = adminPrincipalOf(context);
        return { realms: (await r.listRealms()).filter((realm) => allows(scopes, "read", realm.name)).map(realmToMessage) };
      },
      updateRealm: async ({ realm }) => {
        const updated = this.#realmFrom(realm);
        await r.updateRealm(updated);
        return { realm: realmToMessage(updated) };
      },
      deleteRealm: async ({ name }) => {
        if (!(await r.deleteRealm(name))) throw notFound(`realm ${name}`);
        this.log.info({ realm: name }, "realm deleted");
        return {};
      },

      createClient: async ({ realm, client }) => {
        await this.#realm(realm);
        const created = await this.#clientFrom(realm, client, undefined);
        await r.createClient(realm, created);
        return { client: clientToMessage(created) };
      },
      getClient: async ({ realm, clientId }) => {
        const client = await r.getClient(realm, clientId);
        if (!client) throw notFound(`client ${clientId}`);
        return { client: clientToMessage(client) };
      },
      listClients: async ({ realm }) => {
        await this.#realm(realm);
        return { clients: (await r.listClients(realm)).map(clientToMessage) };
      },
      updateClient: async ({ realm, client }) => {
        const existing = await r.getClient(realm, required(client?.clientId ?? "", "client.clientId"));
        if (!existing) throw notFound(`client ${client?.clientId}`);
        const updated = await this.#clientFrom(realm, client, existing);
        await r.updateClient(realm, updated);
        return { client: clientToMessage(updated) };
      },
      deleteClient: async ({ realm, clientId }) => {
        if (!(await r.deleteClient(realm, clientId))) throw notFound(`client ${clientId}`);
        return {};
      },

      createScope: async ({ realm, scope }) => {
        await this.#realm(realm);
        const created = await this.#scopeFrom(realm, scope);
        await r.createScope(realm, created);
        return { scope: scopeToMessage(created) };
      },
      getScope: async ({ realm, name }) => {
        const scope = await r.getScope(realm, name);
        if (!scope) throw notFound(`scope ${name}`);
        return { scope: scopeToMessage(scope) };
      },
      listScopes: async ({ realm }) => {
        await this.#realm(realm);
        return { scopes: (await r.listScopes(realm)).map(scopeToMessage) };
      },
      updateScope: async ({ realm, scope }) => {
        const updated = await this.#scopeFrom(realm, scope);
        await r.updateScope(realm, updated);
        return { scope: scopeToMessage(updated) };
      },
      deleteScope: async ({ realm, name }) => {
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
      endSession: async ({ realm, sessionId }) => {
        await this.#realm(realm);
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
    }, this.authenticator));
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
      try {
        jwks = JSON.parse(message.jwksJson) as { keys: PublicJwk[] };
      } catch {
        issues.push({ path: ["jwksJson"], message: "expected a JWK Set as JSON" });
      }
    }
    const client: Client = {
      clientId: required(message.clientId, "client.clientId"),
      enabled: message.enabled ?? true,
      publicClient: message.publicClient,
      authMethods: message.publicClient || authMethods.length > 0 ? authMethods : defaultAuthMethods(message, existing),
      secretHash: message.secret !== "" ? await hashClientSecret(message.secret) : existing?.secretHash,
      jwks,
      jwksUri: message.jwksUri || undefined,
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
    if (error instanceof StorageUnavailableError) return new ConnectError("storage is temporarily unavailable", Code.Unavailable);
    const errorId = randomUUID();
    this.log.error({ errorId, err: error }, "unexpected admin failure");
    return new ConnectError(`internal error, reference ${errorId}`, Code.Internal);
  }
}

function notFound(what: string): ConnectError {
  return new ConnectError(`${what} not found`, Code.NotFound);
}

/** Like realm files: secret -> the two secret methods; keys -> private_key_jwt. */
function defaultAuthMethods(message: ClientMessage, existing: Client | undefined): ClientAuthMethod[] {
  if (message.jwksJson !== "" || message.jwksUri !== "") return ["private_key_jwt"];
  if (message.secret !== "" || existing?.secretHash) return ["client_secret_basic", "client_secret_post"];
  return [];
}
