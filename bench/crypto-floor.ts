/**
 * The crypto floor as issue 7 defines it: jose verify of the subject token plus jose sign of the
 * new one (ES256), with the same headers and claims as Tessera's real tokens. Measured per
 * CPU-second of this process (all threads: jose's WebCrypto jobs run on libuv's thread pool), one
 * operation at a time. Tessera itself signs and verifies its own tokens with node:crypto's one-shot
 * calls (src/tokens/jws-algorithms.ts), measured here too for reference.
 *
 *   node --import tsx bench/crypto-floor.ts '<CryptoFloorInput as JSON>'
 *
 * Prints one line of {@link CryptoFloor} JSON.
 */
import { generateKeyPairSync, randomUUID, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { fileURLToPath } from "node:url";
import { SignJWT, createLocalJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWTPayload } from "jose";

/** Two real tokens of Tessera (their shape only is used) and the lengths of the windows. */
export interface CryptoFloorInput {
  /** A client-credentials access token: the subject token of the exchange. */
  subjectToken: string;
  /** The token that exchanging it issued. */
  issuedToken: string;
  warmupSeconds: number;
  /** Length of each of the three measured windows (verify+sign, sign, verify). */
  durationSeconds: number;
}

/** The floor, per CPU-second of one process. */
export interface CryptoFloor {
  /** CPU microseconds of one verify plus one sign. */
  verifyPlusSignCpuUs: number;
  verifyPlusSignPerCpuSecond: number;
  signsPerCpuSecond: number;
  verifiesPerCpuSecond: number;
  algorithm: string;
  /**
   * For reference, not the floor: the same verify + sign (JSON, base64url, ECDSA P-256) with
   * node:crypto's one-shot `sign`/`verify` on KeyObjects instead of WebCrypto, as Tessera does,
   * CPU microseconds. Only for ES256 tokens.
   */
  nodeCryptoVerifyPlusSignCpuUs?: number;
}

const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** Runs `operation` one at a time for `seconds`; operations per CPU-second. */
async function perCpuSecond(seconds: number, operation: () => Promise<unknown>): Promise<number> {
  const end = Date.now() + seconds * 1000;
  const cpu = cpuSeconds();
  let n = 0;
  while (Date.now() < end && n < 10_000_000) {
    await operation();
    n++;
  }
  return n / (cpuSeconds() - cpu);
}

/** Measures the floor. */
export async function measureCryptoFloor(input: CryptoFloorInput): Promise<CryptoFloor> {
  const header = decodeProtectedHeader(input.issuedToken);
  const algorithm = header.alg ?? "ES256";
  const { publicKey, privateKey } = await generateKeyPair(algorithm);
  const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: header.kid, alg: algorithm, use: "sig" }] });
  const now = Math.floor(Date.now() / 1000);
  const lifetime = (claims: JWTPayload) => ({ ...claims, iat: now, exp: now + 3600 });

  const subjectHeader = decodeProtectedHeader(input.subjectToken);
  const subjectClaims = lifetime(decodeJwt(input.subjectToken));
  const subject = await new SignJWT(subjectClaims).setProtectedHeader({ alg: algorithm, typ: subjectHeader.typ, kid: header.kid }).sign(privateKey);
  const issuedClaims = lifetime(decodeJwt(input.issuedToken));

  // The same checks as Tessera's RealmTokenVerifier, and a new jti and iat per token as its TokenIssuer.
  const verify = () =>
    jwtVerify(subject, jwks, {
      issuer: subjectClaims.iss,
      typ: subjectHeader.typ,
      algorithms: [algorithm],
      requiredClaims: ["sub", "exp", "iat", "jti"],
      clockTolerance: 5,
    });
  const sign = () =>
    new SignJWT({ ...issuedClaims, iat: Math.floor(Date.now() / 1000), jti: randomUUID() })
      .setProtectedHeader({ alg: algorithm, typ: header.typ, kid: header.kid })
      .sign(privateKey);
  const both = async () => {
    await verify();
    await sign();
  };

  await perCpuSecond(input.warmupSeconds, both);
  const pairs = await perCpuSecond(input.durationSeconds, both);
  const signs = await perCpuSecond(input.durationSeconds, sign);
  const verifies = await perCpuSecond(input.durationSeconds, verify);
  const floor: CryptoFloor = { verifyPlusSignCpuUs: 1e6 / pairs, verifyPlusSignPerCpuSecond: pairs, signsPerCpuSecond: signs, verifiesPerCpuSecond: verifies, algorithm };
  if (algorithm === "ES256") floor.nodeCryptoVerifyPlusSignCpuUs = 1e6 / (await perCpuSecond(input.durationSeconds, nodeCryptoPair(subject, header, issuedClaims)));
  return floor;
}

/** One verify of a token like `subject` and one sign of `claims`, with node:crypto one-shot ECDSA P-256. */
function nodeCryptoPair(subject: string, header: Record<string, unknown>, claims: JWTPayload): () => Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecdsa = { dsaEncoding: "ieee-p1363" } as const;
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = subject.slice(0, subject.lastIndexOf("."));
  const signature = nodeSign("sha256", Buffer.from(input), { key: privateKey, ...ecdsa });
  return async () => {
    const [, payload] = input.split(".");
    if (!nodeVerify("sha256", Buffer.from(input), { key: publicKey, ...ecdsa }, signature)) throw new Error("node:crypto verify failed");
    JSON.parse(Buffer.from(payload, "base64url").toString());
    const signingInput = `${b64({ alg: "ES256", typ: header.typ, kid: header.kid })}.${b64({ ...claims, iat: Math.floor(Date.now() / 1000), jti: randomUUID() })}`;
    return `${signingInput}.${nodeSign("sha256", Buffer.from(signingInput), { key: privateKey, ...ecdsa }).toString("base64url")}`;
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const input = JSON.parse(process.argv[2] ?? "{}") as CryptoFloorInput;
  process.stdout.write(`${JSON.stringify(await measureCryptoFloor(input))}\n`);
}
