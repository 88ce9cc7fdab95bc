// A stand-in for a CI system's OIDC issuer (GitHub Actions style), for trying workload identity
// federation locally: serves its JWKS on http://127.0.0.1:9000 and prints one signed job token.
// Run:  npx tsx examples/local-ci-issuer.ts   (LOCAL_ISSUER_PORT overrides 9000; REPOSITORY and REF change the
// claims; REF may list several refs, comma-separated, for one token each, one per line)
//
// Like a real issuer, it keeps its signing key across restarts: the private JWK is written once to
// LOCAL_ISSUER_KEY (default: tessera-local-ci-issuer.jwk.json in the system's temporary directory) and read
// back on every later start, so a Tessera that cached the issuer's keys keeps verifying its tokens. The key's
// `kid` is its JWK thumbprint (RFC 7638): delete the file and the next start has a new key under a new kid,
// which Tessera fetches as an unknown kid (at most once every 30 s).
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";

const port = Number(process.env.LOCAL_ISSUER_PORT ?? 9000);
const issuer = `http://127.0.0.1:${port}`;
const keyFile = process.env.LOCAL_ISSUER_KEY ?? join(tmpdir(), "tessera-local-ci-issuer.jwk.json");

/** The issuer's private RS256 JWK: the one in `keyFile`, or a new one written there (owner-only). */
async function signingJwk(): Promise<JWK> {
  try {
    return JSON.parse(await readFile(keyFile, "utf8")) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = await exportJWK(privateKey);
    try {
      await writeFile(keyFile, JSON.stringify(jwk), { mode: 0o600, flag: "wx" });
      return jwk;
    } catch (written) {
      // Another start wrote it first: use that one.
      if ((written as NodeJS.ErrnoException).code === "EEXIST") return signingJwk();
      throw written;
    }
  }
}

const privateJwk = await signingJwk();
const { kty, n, e } = privateJwk;
const kid = await calculateJwkThumbprint({ kty, n, e });
const privateKey = await importJWK(privateJwk, "RS256");
const jwk = { kty, n, e, kid, alg: "RS256", use: "sig" };

const server = createServer((req, res) => {
  const body =
    req.url === "/.well-known/openid-configuration"
      ? { issuer, jwks_uri: `${issuer}/jwks` }
      : req.url === "/jwks"
        ? { keys: [jwk] }
        : undefined;
  res.writeHead(body ? 200 : 404, { "content-type": "application/json" }).end(JSON.stringify(body ?? { error: "not found" }));
});
server.listen(port, "127.0.0.1");

const repository = process.env.REPOSITORY ?? "acme/api";
const refs = (process.env.REF ?? "refs/heads/main").split(",");
for (const ref of refs) {
  const token = await new SignJWT({ repository, ref, actor: "octocat", repository_owner: repository.split("/")[0] })
    .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
    .setIssuer(issuer)
    .setSubject(`repo:${repository}:ref:${ref}`)
    .setAudience("tessera")
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(privateKey);
  console.log(token);
}
console.error(`issuer ${issuer} serving its keys (kid ${kid}, kept in ${keyFile}); job tokens for ${repository} at ${refs.join(", ")} are above. Ctrl-C to stop.`);
