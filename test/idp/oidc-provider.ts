import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import Provider from "oidc-provider";

/** Resource indicators (RFC 8707) the provider knows, each with the `aud` and format of its tokens. */
export const RESOURCES = {
  /** JWT access tokens for Tessera (`aud: tessera`). */
  jwt: "https://tessera.test/jwt",
  /** Opaque access tokens for Tessera, checked by introspection. */
  opaque: "https://tessera.test/opaque",
  /** JWT access tokens for some other service (`aud: elsewhere`). */
  foreignJwt: "https://elsewhere.test/jwt",
  /** Opaque access tokens for some other service. */
  foreignOpaque: "https://elsewhere.test/opaque",
} as const;

/** The `aud` of tokens meant for Tessera. */
export const PROVIDER_AUDIENCE = "tessera";

/** Lifetime of the provider's JWT access tokens, seconds: long, so tests can move Tessera's clock an hour on. */
export const JWT_TOKEN_TTL = 7200;

/** Options of {@link startOidcProvider}. */
export interface OidcProviderOptions {
  /** Client ids registered for client_credentials; each acts as one external user (`sub` = client id). */
  users: string[];
}

/** A real `oidc-provider` on 127.0.0.1: JWT and opaque access tokens, JWKS, introspection, revocation. */
export interface OidcTestProvider {
  issuer: string;
  jwksUri: string;
  introspectionEndpoint: string;
  /** Tessera's credentials at the provider, for introspection. */
  introspector: { clientId: string; clientSecret: string };
  /** Kids of the provider's keys; the first one signs. */
  kids(): string[];
  /** The private JWK of a key of the provider (default: the signing key), to forge tokens in attack tests. */
  privateJwk(kid?: string): JWK;
  /** Requests the provider received, as `METHOD /path`. */
  requests: string[];
  /** A client_credentials access token of `user` for `resource` (default {@link RESOURCES.jwt}). */
  token(user: string, resource?: string): Promise<string>;
  /** Revokes a token at the provider (RFC 7009), as the user it was issued to. */
  revoke(token: string, user: string): Promise<void>;
  /** Restarts the provider with a new signing key (the old ones stay published); returns its kid. */
  rotateKey(): Promise<string>;
  /** Stops listening (connections are dropped); state and port are kept for {@link start}. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const secretOf = (clientId: string) => `${clientId}-secret-at-the-provider`;

/** The claims the provider adds to a user's tokens (and introspection answers). */
export function providerClaimsOf(clientId: string): Record<string, unknown> {
  return { preferred_username: clientId, email: `${clientId}@corp.example`, department: "engineering", groups: ["staff", "oncall"] };
}

/**
 * oidc-provider's storage, shared by the provider instances of one test provider, so that
 * tokens issued before a key rotation stay known (introspection, revocation).
 */
function memoryAdapter(store: Map<string, Record<string, unknown>>) {
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    #key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>): Promise<void> {
      store.set(this.#key(id), { ...payload });
    }
    async find(id: string): Promise<Record<string, unknown> | undefined> {
      return store.get(this.#key(id));
    }
    async findByUserCode(): Promise<undefined> {
      return undefined;
    }
    async findByUid(): Promise<undefined> {
      return undefined;
    }
    async consume(id: string): Promise<void> {
      const payload = store.get(this.#key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      store.delete(this.#key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, payload] of store) if (payload.grantId === grantId) store.delete(key);
    }
  };
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `op-${crypto.randomUUID().slice(0, 8)}`, alg: "ES256", use: "sig" };
}

/**
 * Starts `oidc-provider` v9 in-process: the client_credentials grant with resource indicators
 * (JWT access tokens for {@link RESOURCES.jwt}, opaque ones for {@link RESOURCES.opaque}),
 * introspection and revocation, ES256 keys of its own.
 */
export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcTestProvider> {
  const keys: JWK[] = [await newSigningKey()];
  const store = new Map<string, Record<string, unknown>>();
  const introspector = { clientId: "tessera-introspector", clientSecret: "introspector-secret-at-the-provider" };
  const requests: string[] = [];

  let listener: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (listener) listener(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const build = () =>
    new Provider(issuer, {
      adapter: memoryAdapter(store),
      clients: [
        ...options.users.map((clientId) => ({
          client_id: clientId,
          client_secret: secretOf(clientId),
          grant_types: ["client_credentials"],
          redirect_uris: [],
          response_types: [],
        })),
        { client_id: introspector.clientId, client_secret: introspector.clientSecret, grant_types: [], redirect_uris: [], response_types: [] },
      ],
      jwks: { keys },
      clientDefaults: { id_token_signed_response_alg: "ES256" },
      ttl: { ClientCredentials: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? 600 },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true, allowedPolicy: async () => true },
        revocation: { enabled: true, allowedPolicy: async () => true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => RESOURCES.jwt,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            const audience = resource.startsWith("https://tessera.test/") ? PROVIDER_AUDIENCE : "elsewhere";
            if (resource === RESOURCES.jwt || resource === RESOURCES.foreignJwt) {
              return { scope: "api", audience, accessTokenTTL: JWT_TOKEN_TTL, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } };
            }
            return { scope: "api", audience, accessTokenTTL: 600, accessTokenFormat: "opaque" };
          },
        },
      },
      extraTokenClaims: async (_ctx: unknown, token: { clientId: string }) => providerClaimsOf(token.clientId),
    });
  listener = build().callback();

  const post = async (path: string, clientId: string, secret: string, body: Record<string, string>) => {
    const authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
    return fetch(`${issuer}${path}`, {
      method: "POST",
      headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(body),
    });
  };

  const stop = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    introspectionEndpoint: `${issuer}/token/introspection`,
    introspector,
    kids: () => keys.map((k) => String(k.kid)),
    privateJwk: (kid) => {
      const key = kid === undefined ? keys[0] : keys.find((k) => k.kid === kid);
      if (!key) throw new Error(`no key ${kid}`);
      return { ...key };
    },
    requests,
    token: async (user, resource = RESOURCES.jwt) => {
      const answer = await post("/token", user, secretOf(user), { grant_type: "client_credentials", resource, scope: "api" });
      const body = (await answer.json()) as { access_token?: string };
      if (answer.status !== 200 || !body.access_token) throw new Error(`the provider refused a token: ${answer.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    revoke: async (token, user) => {
      const answer = await post("/token/revocation", user, secretOf(user), { token });
      if (answer.status !== 200) throw new Error(`the provider refused to revoke: ${answer.status}`);
    },
    rotateKey: async () => {
      keys.unshift(await newSigningKey());
      listener = build().callback();
      return String(keys[0].kid);
    },
    stop,
    start: async () => {
      if (server.listening) return;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
    },
    close: stop,
  };
}
