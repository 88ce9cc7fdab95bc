import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import {
  JWT_BEARER_ASSERTION_TYPE,
  parseBasicAuthorization,
  epochSeconds,
  type Client,
  type ClientAuthMethod,
  type Clock,
  type Realm,
  type RealmUrls,
} from "../domain/index.js";
import type { ClientSecretVerifier } from "../crypto/client-secrets.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { AuthThrottle } from "./auth-throttle.js";
import { OAuthError, oauthError } from "./errors.js";
import { inSpan } from "../ops/tracing.js";

/** A client certificate presented over mutual TLS (RFC 8705). */
export interface PresentedCertificate {
  /** Whether it chains to the server's configured client CA. */
  authorized: boolean;
  /** Subject distinguished name, one `TYPE=value` per line as node's X509Certificate gives it. */
  subjectDn: string;
  /** base64url SHA-256 of the DER certificate: the `x5t#S256` confirmation (RFC 8705 §3.1). */
  thumbprintS256: string;
}

/** The credentials a request presents, in whatever places the client put them. */
export interface PresentedClientCredentials {
  /** The mutual-TLS client certificate, when the connection has one. */
  clientCertificate?: PresentedCertificate;
  /** The raw `Authorization` header (HTTP) or metadata (gRPC), if any. */
  authorization?: string;
  clientId?: string;
  clientSecret?: string;
  clientAssertionType?: string;
  clientAssertion?: string;
  /** The peer address of the connection the request came by (throttling); undefined in-process. */
  sourceAddress?: string;
}

/** How the client proved who it is. */
export type ClientAuthentication = ClientAuthMethod | "none";

/** A client whose credentials checked out. */
export interface AuthenticatedClient {
  client: Client;
  method: ClientAuthentication;
  /** `x5t#S256` of the mutual-TLS certificate, for certificate-bound tokens (RFC 8705 §3). */
  certificateThumbprint?: string;
}

/**
 * The `cnf` claim of tokens issued to this client on this request: bound to its mutual-TLS
 * certificate when the client asks for certificate-bound access tokens (RFC 8705 §3.1).
 */
export function confirmationOf(authenticated: AuthenticatedClient): { cnf: { "x5t#S256": string } } | undefined {
  const thumbprint = authenticated.certificateThumbprint;
  return authenticated.client.certificateBoundAccessTokens && thumbprint ? { cnf: { "x5t#S256": thumbprint } } : undefined;
}

/** An enabled confidential client registered for `method` (RFC 6749 §2.3: a client uses the methods it registered). */
function acceptsMethod(client: Client | undefined, method: ClientAuthMethod): client is Client {
  return client !== undefined && client.enabled && !client.publicClient && client.authMethods.includes(method);
}

/** A distinguished name compared as RFC 4517 distinguishedNameMatch roughly does: attribute types case-insensitive, order and spacing ignored. */
function normalizeDn(dn: string): string {
  return dn
    .split(/\n|,(?=\s*[A-Za-z0-9.]+\s*=)/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf("=");
      return `${part.slice(0, eq).trim().toUpperCase()}=${part.slice(eq + 1).trim()}`;
    })
    .sort()
    .join(",");
}

/** Asymmetric algorithms accepted on client assertions (RFC 7523) (no `none`, no HMAC with a shared secret). */
export const ASSERTION_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"];

/** Longest accepted lifetime of a client assertion, seconds (RFC 7523 §3: "exp" must be near). */
const MAX_ASSERTION_LIFETIME_SECONDS = 600;

/** Collaborators of {@link ClientAuthenticator}. */
export interface ClientAuthenticatorDeps {
  repository: RealmRepository;
  secrets: ClientSecretVerifier;
  clock: Clock;
  urls: (realm: string) => RealmUrls;
  /** Throttles failed attempts (issue 13); none: every attempt is checked. */
  throttle?: AuthThrottle;
}

/**
 * The client an attempt claims to be, before anything is checked: the Basic user, else `client_id`,
 * else the `sub` of the assertion (decoded, not verified); empty when it names none.
 */
export function claimedClientId(presented: PresentedClientCredentials): string {
  if (presented.authorization !== undefined) return parseBasicAuthorization(presented.authorization)?.clientId ?? "";
  if (presented.clientId !== undefined) return presented.clientId;
  try {
    return presented.clientAssertion ? (decodeJwt(presented.clientAssertion).sub ?? "") : "";
  } catch {
    return "";
  }
}

/**
 * Authenticates the client of a token request: client_secret_basic and client_secret_post
 * (RFC 6749 §2.3.1), private_key_jwt (RFC 7523 §2.2, §3), or a public client by `client_id`
 * (RFC 6749 §2.1). Every failure is the same `invalid_client`, whatever the reason.
 */
export class ClientAuthenticator {
  readonly #remoteJwks = new Map<string, JWTVerifyGetKey>();

  constructor(private readonly deps: ClientAuthenticatorDeps) {}

  /**
   * Authenticates under the throttle; throws `invalid_client` (or `invalid_request` for a malformed
   * request). Traced as a `client authentication` span: realm, then the client id and method once
   * they check out.
   */
  authenticate(realm: Realm, presented: PresentedClientCredentials): Promise<AuthenticatedClient> {
    return inSpan("client authentication", { "tessera.realm": realm.name }, async (span) => {
      const attempt = { kind: "client", realm: realm.name, clientId: claimedClientId(presented), sourceAddress: presented.sourceAddress } as const;
      const check = () => this.#authenticate(realm, presented);
      const failureOf = (error: unknown) => (error instanceof OAuthError && error.code === "invalid_client" ? (error.reason ?? "malformed") : undefined);
      const authenticated = await (this.deps.throttle?.guard(attempt, check, failureOf) ?? check());
      span?.setAttributes({ "oauth.client_id": authenticated.client.clientId, "oauth.client_auth_method": authenticated.method });
      const certificate = presented.clientCertificate;
      return certificate?.authorized ? { ...authenticated, certificateThumbprint: certificate.thumbprintS256 } : authenticated;
    });
  }

  async #authenticate(realm: Realm, presented: PresentedClientCredentials): Promise<AuthenticatedClient> {
    const basic = presented.authorization !== undefined;
    const methods = [basic, presented.clientSecret !== undefined, presented.clientAssertion !== undefined];
    // RFC 6749 §2.3: the client MUST NOT use more than one authentication method in each request.
    if (methods.filter(Boolean).length > 1) throw oauthError.invalidClient(basic, "malformed");
    if (basic) return this.#basic(realm, presented);
    if (presented.clientAssertion !== undefined || presented.clientAssertionType !== undefined) {
      return this.#assertion(realm, presented);
    }
    if (presented.clientId === undefined) {
      // RFC 6749 §3.2.1: a client that does not authenticate must still identify itself.
      throw oauthError.invalidClient(false, "malformed");
    }
    if (presented.clientSecret !== undefined) {
      return this.#secret(realm, presented.clientId, presented.clientSecret, "client_secret_post", false);
    }
    if (presented.clientCertificate !== undefined) return this.#certificate(realm, presented.clientId, presented.clientCertificate);
    return this.#public(realm, presented.clientId);
  }

  async #basic(realm: Realm, presented: PresentedClientCredentials): Promise<AuthenticatedClient> {
    const parsed = parseBasicAuthorization(presented.authorization ?? "");
    // RFC 6749 §2.3.1: a client_id in the body must name the same client.
    if (!parsed || (presented.clientId !== undefined && presented.clientId !== parsed.clientId)) {
      throw oauthError.invalidClient(true, "malformed");
    }
    return this.#secret(realm, parsed.clientId, parsed.secret, "client_secret_basic", true);
  }

  async #secret(
    realm: Realm,
    clientId: string,
    secret: string,
    method: "client_secret_basic" | "client_secret_post",
    basicChallenge: boolean,
  ): Promise<AuthenticatedClient> {
    const client = await this.deps.repository.getClient(realm.name, clientId);
    const storedHash = acceptsMethod(client, method) ? client.secretHash : undefined;
    const ok = await this.deps.secrets.verify(`${realm.name}\u0000${clientId}`, storedHash, secret);
    if (!ok || !client) {
      throw oauthError.invalidClient(basicChallenge, !client ? "unknown_client" : storedHash === undefined ? "method_not_allowed" : "wrong_secret");
    }
    return { client, method };
  }

  /** RFC 8705 §2.1: a certificate chaining to the trusted CA whose subject DN is the one registered. */
  async #certificate(realm: Realm, clientId: string, certificate: PresentedCertificate): Promise<AuthenticatedClient> {
    const client = await this.deps.repository.getClient(realm.name, clientId);
    // A public client may come over mutual TLS too: it still authenticates by client_id alone.
    if (client?.enabled && client.publicClient) return { client, method: "none" };
    const expected = client?.tlsClientAuthSubjectDn;
    const usable = acceptsMethod(client, "tls_client_auth") && expected !== undefined;
    // RFC 8705 §2.1: the certificate must chain to a trusted CA and match the registered subject.
    if (!usable || !certificate.authorized || normalizeDn(certificate.subjectDn) !== normalizeDn(expected)) {
      throw oauthError.invalidClient(false, client ? "bad_certificate" : "unknown_client");
    }
    return { client, method: "tls_client_auth" };
  }

  async #public(realm: Realm, clientId: string): Promise<AuthenticatedClient> {
    const client = await this.deps.repository.getClient(realm.name, clientId);
    // RFC 6749 §2.1: only a client registered as public may go without credentials.
    if (!client?.enabled || !client.publicClient) throw oauthError.invalidClient(false, client ? "method_not_allowed" : "unknown_client");
    return { client, method: "none" };
  }

  async #assertion(realm: Realm, presented: PresentedClientCredentials): Promise<AuthenticatedClient> {
    // RFC 7523 §2.2: both parameters, with the jwt-bearer assertion type.
    if (presented.clientAssertionType !== JWT_BEARER_ASSERTION_TYPE || !presented.clientAssertion) {
      throw oauthError.invalidClient(false, "malformed");
    }
    const assertion = presented.clientAssertion;
    let clientId: string | undefined;
    try {
      clientId = decodeJwt(assertion).sub;
    } catch (cause) {
      throw oauthError.invalidClient(false, "bad_assertion", cause);
    }
    if (!clientId || (presented.clientId !== undefined && presented.clientId !== clientId)) {
      throw oauthError.invalidClient(false, "bad_assertion");
    }
    const client = await this.deps.repository.getClient(realm.name, clientId);
    if (!acceptsMethod(client, "private_key_jwt")) throw oauthError.invalidClient(false, client ? "method_not_allowed" : "unknown_client");
    const urls = this.deps.urls(realm.name);
    const now = this.deps.clock.now();
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, this.#clientKeys(realm.name, client), {
        // RFC 7523 §3: iss and sub are the client_id, aud names the authorization server.
        issuer: clientId,
        subject: clientId,
        audience: [urls.issuer, urls.tokenEndpoint],
        algorithms: ASSERTION_ALGORITHMS,
        requiredClaims: ["exp", "jti"],
        currentDate: now,
        clockTolerance: 5,
      }));
    } catch (cause) {
      if (cause instanceof errors.JOSEError || cause instanceof TypeError) throw oauthError.invalidClient(false, "bad_assertion", cause);
      throw cause;
    }
    const exp = payload.exp ?? 0;
    if (typeof payload.jti !== "string" || exp - epochSeconds(now) > MAX_ASSERTION_LIFETIME_SECONDS) {
      throw oauthError.invalidClient(false, "bad_assertion");
    }
    // RFC 7523 §3 item 7: the jti is accepted once.
    const first = await this.deps.repository.consumeJti(realm.name, clientId, payload.jti, new Date(exp * 1000));
    if (!first) throw oauthError.invalidClient(false, "assertion_replay");
    return { client, method: "private_key_jwt" };
  }

  #clientKeys(realm: string, client: Client): JWTVerifyGetKey {
    if (client.jwks) return createLocalJWKSet(client.jwks as Parameters<typeof createLocalJWKSet>[0]);
    if (!client.jwksUri) throw oauthError.invalidClient(false, "bad_assertion");
    const key = `${realm}\u0000${client.clientId}\u0000${client.jwksUri}`;
    let remote = this.#remoteJwks.get(key);
    if (!remote) {
      remote = createRemoteJWKSet(new URL(client.jwksUri), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      this.#remoteJwks.set(key, remote);
    }
    return remote;
  }
}
