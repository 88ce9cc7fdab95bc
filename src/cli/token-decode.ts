import { parseArgs } from "node:util";
import { compactVerify, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload } from "jose";
import { readInput } from "./input.js";

/** The help of `tessera token decode`. */
export const TOKEN_USAGE = `Usage: tessera token decode [TOKEN|-] [flags]

Prints a JWT's header and claims and when it expires, and verifies its signature against the realm's
JWKS (--realm-url, or the token's iss). The token is only read locally: the one request made fetches the JWKS.
Without TOKEN (or with -) the token is read from standard input.

Flags:
  --realm-url URL      the realm that issued it, e.g. http://127.0.0.1:8080/realms/demo (default the iss claim)
  --no-verify          do not fetch the JWKS; decode only
  --output table|json  how the result is printed (default table)
  -h, --help           print this help

Exit codes: 0 decoded (and verified, when checked), 1 not verified, 2 usage or not a JWT.
`;

/** A result line's words for the token's expiry, relative to `now` (seconds). */
export function expiryInWords(exp: unknown, now: number): string {
  if (typeof exp !== "number") return "no exp claim: does not expire";
  const when = new Date(exp * 1000).toISOString();
  return exp <= now ? `expired ${now - exp} s ago (${when})` : `expires in ${exp - now} s (${when})`;
}

/** The outcome of checking the signature: verified with which keys, or why not. */
interface Verification {
  verified: boolean;
  jwksUri?: string;
  reason?: string;
}

/** Verifies the signature (RFC 7515) with the realm's JWKS; the issuer must be the realm's when it is given. */
async function verify(token: string, claims: JWTPayload, realmUrl: string | undefined): Promise<Verification> {
  const base = (realmUrl ?? claims.iss)?.replace(/\/+$/, "");
  if (!base) return { verified: false, reason: "no --realm-url and no iss claim to find the JWKS" };
  if (!URL.canParse(base)) return { verified: false, reason: `not a URL: ${base}` };
  const jwksUri = `${base}/protocol/openid-connect/certs`;
  if (realmUrl !== undefined && claims.iss !== base) return { verified: false, jwksUri, reason: `issued by ${String(claims.iss)}, not ${base}` };
  try {
    await compactVerify(token, createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 5000 }));
    return { verified: true, jwksUri };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason = code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "signature does not match the realm's key" : code === "ERR_JWKS_NO_MATCHING_KEY" ? "no key of the realm's JWKS has this kid" : (error as Error).message;
    return { verified: false, jwksUri, reason };
  }
}

/** `tessera token decode`: returns the exit code. */
export async function runTokenDecode(argv: string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { "realm-url": { type: "string" }, "no-verify": { type: "boolean" }, output: { type: "string" }, help: { type: "boolean", short: "h" } } });
  } catch (error) {
    err(`tessera token: ${(error as Error).message.split("\n")[0]} (see tessera token decode --help)\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(TOKEN_USAGE);
    return 0;
  }
  const [action, source = "-", ...extra] = positionals;
  const output = values.output ?? "table";
  if (action !== "decode" || extra.length > 0 || (output !== "table" && output !== "json")) {
    err(`tessera token: ${action !== "decode" ? `unknown command ${JSON.stringify(action ?? "")}` : extra.length > 0 ? "expected one TOKEN" : "--output: expected json or table"} (see tessera token decode --help)\n`);
    return 2;
  }
  const token = (source === "-" ? await readInput("-") : source).trim();
  let header, claims;
  try {
    header = decodeProtectedHeader(token);
    claims = decodeJwt(token);
  } catch {
    err("tessera token: not a JWT (expected three base64url parts: header.claims.signature)\n");
    return 2;
  }
  const now = Math.floor(Date.now() / 1000);
  const verification = values["no-verify"] ? undefined : await verify(token, claims, values["realm-url"]);
  const expiry = expiryInWords(claims.exp, now);
  if (output === "json") {
    const expiresIn = typeof claims.exp === "number" ? claims.exp - now : null;
    out(`${JSON.stringify({ header, claims, expired: expiresIn !== null && expiresIn <= 0, expiresIn, verification: verification ?? null }, null, 2)}\n`);
  } else {
    const signature = !verification ? "not checked (--no-verify)" : verification.verified ? `verified with ${verification.jwksUri}` : `NOT verified: ${verification.reason}`;
    out(`header: ${JSON.stringify(header, null, 2)}\nclaims: ${JSON.stringify(claims, null, 2)}\nexpiry: ${expiry}\nsignature: ${signature}\n`);
  }
  return verification && !verification.verified ? 1 : 0;
}
