import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { ClientSecretVerifier } from "../crypto/client-secrets.js";
import { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import { realmUrls, systemClock, type Clock } from "../domain/index.js";
import { ClientAuthenticator } from "../exchange/client-auth.js";
import { AuthThrottle, DEFAULT_AUTH_THROTTLE, type AuthThrottleSettings } from "../exchange/auth-throttle.js";
import { ClientCredentialsGrant } from "../exchange/client-credentials-grant.js";
import type { GrantDeps } from "../exchange/grant-deps.js";
import { TokenExchangeGrant } from "../exchange/token-exchange-grant.js";
import { ExchangeExplainer } from "../exchange/exchange-explainer.js";
import { AuditLog } from "../exchange/audit-log.js";
import { Logout } from "../exchange/logout.js";
import { RefreshTokenGrant } from "../exchange/refresh-token-grant.js";
import { RefreshTokenMinter } from "../exchange/refresh-tokens.js";
import { RevocationCascade } from "../exchange/revocations.js";
import { SessionManager } from "../exchange/sessions.js";
import { TokenIntrospection } from "../exchange/token-introspection.js";
import { TokenRevocation } from "../exchange/token-revocation.js";
import { ExpirySweeper } from "../storage/expiry-sweeper.js";
import { cacheConfiguration } from "../storage/cached-realm-repository.js";
import { ExternalTokenVerifier } from "../idp/external-token-verifier.js";
import { ExternalUserResolver } from "../idp/external-users.js";
import { ProviderKeyCache } from "../idp/provider-keys.js";
import type { HttpResponse } from "../http/node-types.js";
import { createOAuthRoutes } from "../http/oauth-routes.js";
import type { Logger } from "../ops/logger.js";
import { Operations, type OperationsOptions } from "../ops/operations.js";
import { AdminRpc } from "../rpc/admin-service.js";
import { AdminTokenAuthenticator } from "../admin/admin-authenticator.js";
import { CLIENT_CERTIFICATE, SOURCE_ADDRESS, TokenExchangeRpc } from "../rpc/token-exchange-service.js";
import { clientCertificateOf, sourceAddressOf } from "../http/client-certificate.js";
import type { DualHandler } from "./listen.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import { RealmKeyStore } from "../tokens/realm-keys.js";
import { TokenIssuer, UnsignedTokenPreview } from "../tokens/token-issuer.js";
import { RealmTokenVerifier } from "../tokens/token-verifier.js";

/** What Tessera is built from. */
export interface TesseraOptions {
  repository: RealmRepository;
  /** Base of every issuer, without a trailing slash. */
  publicUrl: string;
  /** 32 bytes that encrypt private keys at rest. */
  masterKey: Uint8Array;
  log: Logger;
  clock?: Clock;
  /** The server asks for client certificates (`--tls-client-ca`): advertise RFC 8705 in metadata. */
  mutualTls?: boolean;
  /** Leeway on `exp`/`nbf` of the realms' own tokens, seconds (default 0). */
  tokenClockSkewSeconds?: number;
  /** How long configuration reads are cached (default 5000 ms): how late another instance's change may be seen. */
  configurationCacheTtlMs?: number;
  /** Health, metrics, CORS: see {@link OperationsOptions}. */
  operations?: OperationsOptions;
  /** Throttling of failed authentication; unset settings take {@link DEFAULT_AUTH_THROTTLE}. */
  authThrottle?: Partial<AuthThrottleSettings>;
}

/** The assembled services and the one request handler that serves them all. */
export interface Tessera {
  handler: DualHandler;
  /** The repository as the services use it (timed, configuration cached): write through it to be seen at once. */
  repository: RealmRepository;
  tokenExchange: TokenExchangeRpc;
  keys: RealmKeyStore;
  audit: AuditLog;
  /** Health, metrics, request log (stopped by `close()`). */
  operations: Operations;
  /** Writes pending audit events and stops timers; call before closing the repository. */
  close(): Promise<void>;
}

/** Largest accepted RPC message, bytes (the same limit as form bodies; the gRPC port's too). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Largest accepted AdminService message, bytes: a realm file of some thousands of users. */
const MAX_ADMIN_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Wires repository -> keys -> grants -> RPC services -> one handler serving gRPC, gRPC-Web,
 * Connect and the OAuth HTTP endpoints.
 */
export function createTessera(options: TesseraOptions): Tessera {
  const { log } = options;
  const operations = new Operations(log, options.operations);
  const clock = options.clock ?? systemClock;
  // Storage calls are timed as they reach storage; configuration reads are served from memory for a few seconds.
  const repository = cacheConfiguration(operations.instrumentRepository(options.repository), clock, {
    ttlMs: options.configurationCacheTtlMs,
  });
  const urls = (realm: string) => realmUrls(options.publicUrl, realm);
  const cipher = new MasterKeyCipher(options.masterKey);
  const keys = new RealmKeyStore(repository, cipher, clock);
  const throttle = new AuthThrottle({ ...DEFAULT_AUTH_THROTTLE, ...options.authThrottle }, clock, operations.metrics);
  const secrets = new ClientSecretVerifier();
  const audit = new AuditLog(repository, clock, log);
  const providerKeys = new ProviderKeyCache(clock);
  const issuer = new TokenIssuer(keys, clock);
  const verifier = new RealmTokenVerifier(keys, clock, options.tokenClockSkewSeconds);
  const externalTokens = new ExternalTokenVerifier(providerKeys, cipher, clock);
  // Built once over storage, and once over the dry-run storage of ExplainExchange (which signs nothing).
  const grantDeps = (store: RealmRepository, dryRun = false): GrantDeps => ({
    repository: store,
    authenticator: new ClientAuthenticator({ repository: store, secrets, clock, urls, throttle }), // explain is throttled too: no oracle for guessing
    issuer: dryRun ? new UnsignedTokenPreview(clock) : issuer,
    verifier,
    sessions: new SessionManager(store, clock, audit),
    refreshTokens: new RefreshTokenMinter(store, clock),
    revocations: new RevocationCascade(store, clock),
    audit,
    externalTokens,
    externalUsers: new ExternalUserResolver(store),
    cipher,
    clock,
    urls,
  });
  const deps = grantDeps(repository);
  const { sessions } = deps;
  const adminAuthenticator = new AdminTokenAuthenticator({ repository, verifier, sessions, urls, throttle });
  const tokenExchange = new TokenExchangeRpc(
    {
      exchange: new TokenExchangeGrant(deps),
      clientCredentials: new ClientCredentialsGrant(deps),
      refresh: new RefreshTokenGrant(deps),
      introspection: new TokenIntrospection(deps),
      revocation: new TokenRevocation(deps),
      logout: new Logout(deps),
      explain: new ExchangeExplainer((dry) => grantDeps(dry, true), repository, adminAuthenticator),
    },
    log,
  );
  const admin = new AdminRpc(repository, sessions, audit, clock, log, { cipher, keys: providerKeys }, adminAuthenticator, keys);
  const sweeper = new ExpirySweeper(repository, clock, log);
  const oauthRoutes = createOAuthRoutes({ rpc: operations.observeRpc(tokenExchange), repository, keys, urls, log, mutualTls: options.mutualTls ?? false });
  operations.monitorReadiness(options.repository, keys);
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(TokenExchangeService, tokenExchange.serviceImpl());
      // Realm files (ImportRealm) are larger than token requests.
      router.service(AdminService, admin.serviceImpl(), { readMaxBytes: MAX_ADMIN_MESSAGE_BYTES });
      operations.registerServices(router);
    },
    interceptors: operations.interceptors,
    // The mutual-TLS client certificate, for tls_client_auth and certificate-bound tokens (RFC 8705); the peer, for throttling.
    contextValues: (req) => createContextValues().set(CLIENT_CERTIFICATE, clientCertificateOf(req)).set(SOURCE_ADDRESS, sourceAddressOf(req)),
    readMaxBytes: MAX_MESSAGE_BYTES,
    // connect-node types its response without `write` overloads; it is the same object.
    fallback: (req, res) => oauthRoutes(req, res as HttpResponse),
  });
  return {
    handler: operations.wrap(handler),
    repository,
    tokenExchange,
    keys,
    audit,
    operations,
    close: async () => {
      operations.close();
      sweeper.stop();
      await audit.close();
    },
  };
}
