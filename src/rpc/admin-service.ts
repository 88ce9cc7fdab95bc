import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import type { AdminTokenAuthenticator } from "../admin/admin-authenticator.js";
import type { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import type { Clock, Realm } from "../domain/index.js";
import type { AuditLog } from "../exchange/audit-log.js";
import type { SessionManager } from "../exchange/sessions.js";
import type { ProviderKeyCache } from "../idp/provider-keys.js";
import type { Logger } from "../ops/logger.js";
import {
  InvalidPageTokenError,
  StorageConflictError,
  StorageNotFoundError,
  type RealmRepository,
} from "../storage/realm-repository.js";
import type { RealmKeyStore } from "../tokens/realm-keys.js";
import { clientMethods } from "./admin/clients.js";
import { notFound } from "./admin/errors.js";
import { eventMethods } from "./admin/events.js";
import type { AdminHandlerDeps } from "./admin/handler-deps.js";
import { identityProviderMethods } from "./admin/identity-providers.js";
import { realmFileMethods } from "./admin/realm-files.js";
import { realmMethods } from "./admin/realms.js";
import { scopeMethods } from "./admin/scopes.js";
import { sessionMethods } from "./admin/sessions.js";
import { signingKeyMethods } from "./admin/signing-keys.js";
import { userMethods } from "./admin/users.js";
import { authorizeAdminService } from "./admin-auth.js";
import { toConnectError } from "./errors.js";

/**
 * The AdminService implementation: CRUD of realms, clients, scopes, users, identity providers and
 * signing keys over the repository, with the same rules as realm files, plus realm files, sessions
 * and audit events. Each resource's methods live in `admin/`; this composes them. Every call is
 * authenticated with a master-realm bearer token and authorized by its admin scopes (see `admin-auth.ts`).
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
    const { repository, sessions, audit, clock, log, providers, signingKeys } = this;
    const deps: AdminHandlerDeps = { repository, clock, requireRealm: (name) => this.#realm(name) };
    // A new algorithm: a new key signs from now on; the old one verifies until its tokens expire.
    const realmChanged = async (before: Realm, after: Realm) => {
      if (before.signingAlgorithm !== after.signingAlgorithm) await signingKeys.rotate(after);
    };
    return this.#guarded(authorizeAdminService(this.#guarded({
      ...realmMethods({ ...deps, log, realmChanged }),
      ...realmFileMethods({ repository, cipher: providers.cipher, realmChanged }),
      ...clientMethods({ ...deps, log }),
      ...scopeMethods(deps),
      ...identityProviderMethods({ ...deps, cipher: providers.cipher, keys: providers.keys }),
      ...userMethods({ ...deps, sessions }),
      ...signingKeyMethods({ ...deps, keys: signingKeys }),
      ...sessionMethods({ ...deps, sessions }),
      ...eventMethods({ ...deps, audit }),
    }), this.authenticator, this.audit));
  }

  async #realm(name: string): Promise<Realm> {
    const realm = await this.repository.getRealm(name);
    if (!realm) throw notFound(`realm ${name}`);
    return realm;
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
