// A stand-in for a CI system's OIDC issuer (GitHub Actions style), for trying workload identity
// federation locally: serves its JWKS on http://127.0.0.1:9000 and prints one signed job token.
// Run:  npx tsx examples/local-ci-issuer.ts   (LOCAL_ISSUER_PORT overrides 9000; REPOSITORY and REF change the
// claims; REF may list several refs, comma-separated, for one token each, one per line)
import { createServer } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const port = Number(process.env.LOCAL_ISSUER_PORT ?? 9000);
const issuer = `http://127.0.0.1:${port}`;
const { publicKey, privateKey } = await generateKeyPair("RS256");
const jwk = { ...(await exportJWK(publicKey)), kid: "ci-1", alg: "RS256", use: "sig" };

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
    .setProtectedHeader({ alg: "RS256", kid: "ci-1", typ: "JWT" })
    .setIssuer(issuer)
    .setSubject(`repo:${repository}:ref:${ref}`)
    .setAudience("tessera")
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(privateKey);
  console.log(token);
}
console.error(`issuer ${issuer} serving its keys; job tokens for ${repository} at ${refs.join(", ")} are above. Ctrl-C to stop.`);
