import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from "jose";

/** How an issuer's key endpoints (JWKS and discovery) answer. */
export type EndpointMode =
  /** The keys, and a discovery document naming them. */
  | "ok"
  /** Accept the request and never answer (a provider beyond Tessera's fetch timeout). */
  | "hang"
  /** 200 with a body that is not JSON. */
  | "garbage"
  /** 200 with JSON that is not a JWK Set. */
  | "not-jwks"
  /** 500. */
  | "error"
  /** A discovery document whose `issuer` is another issuer's. */
  | "wrong-discovery";

/** A signing key of a test issuer. */
export interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** Options of {@link TestIssuer.sign}. */
export interface SignOptions {
  /** Header members added to (or replacing) `alg`, `typ` and `kid`. */
  header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
  /** Signs with this key instead of the issuer's signing key. */
  key?: IssuerKey;
  /** Seconds until `exp` (default 600); `exp` in `claims` wins. */
  lifetime?: number;
}

/** One issuer hosted by an {@link IssuerServer}: `{base}/i/{name}`, with its JWKS and discovery document. */
export interface TestIssuer {
  name: string;
  /** The `iss` of its tokens. */
  issuer: string;
  jwksUri: string;
  discoveryUrl: string;
  /** The key that signs (the last one added). */
  signingKey(): IssuerKey;
  /** Every published key. */
  keys: IssuerKey[];
  mode: EndpointMode;
  /** Paths of the requests this issuer received. */
  requests: string[];
  /** Signs a JWT with `iss`, `aud: tessera`, `iat`, `exp` (Tessera's clock) and a `jti`, plus `claims`. */
  sign(claims: JWTPayload, options?: SignOptions): Promise<string>;
  /** Publishes a new key that then signs; returns it. */
  rotate(): Promise<IssuerKey>;
}

/** A local HTTP server hosting any number of token issuers, each with its own keys and endpoint behaviour. */
export interface IssuerServer {
  base: string;
  /** Every request received, as paths. */
  requests: string[];
  create(name: string, options?: { mode?: EndpointMode }): Promise<TestIssuer>;
  close(): Promise<void>;
}

/** The default `aud` of test tokens. */
export const TEST_AUDIENCE = "tessera";

/** A fresh ES256 key pair with a kid. */
export async function newIssuerKey(kid = `k-${crypto.randomUUID().slice(0, 8)}`): Promise<IssuerKey> {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

/**
 * Starts a server for hand-made issuers (GitHub-Actions-style OIDC tokens, attack tests). `now`
 * is the clock tokens are dated by: Tessera's test clock, so moving it keeps tokens fresh.
 */
export async function startIssuerServer(now: () => Date = () => new Date()): Promise<IssuerServer> {
  const issuers = new Map<string, TestIssuer>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    requests.push(path);
    const match = /^\/i\/([^/]+)(\/.*)$/.exec(path);
    const issuer = match ? issuers.get(match[1]) : undefined;
    if (!match || !issuer) return sendJson(res, 404, { error: "not found" });
    issuer.requests.push(match[2]);
    switch (issuer.mode) {
      case "hang":
        return; // never answers; the socket is destroyed by close()
      case "garbage":
        res.writeHead(200, { "content-type": "application/json" }).end("<html>surprise</html>");
        return;
      case "error":
        return sendJson(res, 500, { error: "boom" });
      case "not-jwks":
        return sendJson(res, 200, { hello: "world" });
      default:
    }
    if (match[2] === "/jwks") return sendJson(res, 200, { keys: issuer.keys.map((k) => k.publicJwk) });
    if (match[2] === "/.well-known/openid-configuration") {
      const claimed = issuer.mode === "wrong-discovery" ? `${base}/i/someone-else` : issuer.issuer;
      return sendJson(res, 200, { issuer: claimed, jwks_uri: issuer.jwksUri, id_token_signing_alg_values_supported: ["ES256"] });
    }
    return sendJson(res, 404, { error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    base,
    requests,
    create: async (name, options = {}) => {
      const issuerUrl = `${base}/i/${name}`;
      const keys = [await newIssuerKey()];
      const issuer: TestIssuer = {
        name,
        issuer: issuerUrl,
        jwksUri: `${issuerUrl}/jwks`,
        discoveryUrl: `${issuerUrl}/.well-known/openid-configuration`,
        signingKey: () => keys[keys.length - 1],
        keys,
        mode: options.mode ?? "ok",
        requests: [],
        sign: async (claims, signOptions = {}) => {
          const key = signOptions.key ?? issuer.signingKey();
          const iat = Math.floor(now().getTime() / 1000);
          const payload: JWTPayload = {
            iss: issuerUrl,
            aud: TEST_AUDIENCE,
            iat,
            exp: iat + (signOptions.lifetime ?? 600),
            jti: crypto.randomUUID(),
            ...claims,
          };
          return new SignJWT(payload)
            .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: key.kid, ...signOptions.header } as JWTHeaderParameters)
            .sign(key.privateKey);
        },
        rotate: async () => {
          const key = await newIssuerKey();
          keys.push(key);
          return key;
        },
      };
      issuers.set(name, issuer);
      return issuer;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
