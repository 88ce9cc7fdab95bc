/**
 * Realm tokens signed and verified with node:crypto one-shot calls: interop with jose in both
 * directions for every algorithm a realm may sign with, and every refusal of the verifier with
 * its exact reason. Real RealmKeyStore over the in-memory repository, a clock the tests move.
 */
import assert from "node:assert/strict";
import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as nodeSign,
  type JsonWebKey,
  type KeyObject,
} from "node:crypto";
import { describe, it } from "node:test";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from "jose";
import { MasterKeyCipher } from "../../src/crypto/master-key-cipher.js";
import { REALM_DEFAULTS, SIGNING_ALGORITHMS, epochSeconds, type Clock, type Realm, type SigningAlgorithm } from "../../src/domain/index.js";
import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { StorageUnavailableError } from "../../src/storage/realm-repository.js";
import { RealmKeyStore, SigningKeyError } from "../../src/tokens/realm-keys.js";
import { TokenIssuer, type TokenClaims } from "../../src/tokens/token-issuer.js";
import { RealmTokenVerifier, TokenVerificationError, type TokenRejection } from "../../src/tokens/token-verifier.js";

/** A clock standing still until a test moves it. */
class ManualClock implements Clock {
  #ms = Date.UTC(2030, 0, 1, 12);

  now(): Date {
    return new Date(this.#ms);
  }

  advance(seconds: number): void {
    this.#ms += seconds * 1000;
  }
}

/** One realm, its key store, issuer and verifier, and the private half of its active key. */
interface Fixture {
  repository: MemoryRealmRepository;
  cipher: MasterKeyCipher;
  clock: ManualClock;
  keys: RealmKeyStore;
  issuer: TokenIssuer;
  verifier: RealmTokenVerifier;
  realm: Realm;
  iss: string;
  kid: string;
  /** The active key as jose uses it. */
  privateKey: CryptoKey;
  /** The same key as node:crypto uses it (to craft tokens the issuer never would). */
  nodeKey: KeyObject;
}

/** A realm whose active key of `algorithm` is one the test holds (imported through the key store). */
async function fixture(algorithm: SigningAlgorithm = "ES256"): Promise<Fixture> {
  const repository = new MemoryRealmRepository();
  const cipher = new MasterKeyCipher(randomBytes(32));
  const clock = new ManualClock();
  const keys = new RealmKeyStore(repository, cipher, clock);
  const realm: Realm = { name: `crypto-${randomUUID().slice(0, 8)}`, ...REALM_DEFAULTS, signingAlgorithm: algorithm };
  await repository.createRealm(realm);
  const { privateKey } = await generateKeyPair(algorithm, { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: algorithm };
  const { kid } = await keys.importKey(realm, jwk, true);
  return {
    repository,
    cipher,
    clock,
    keys,
    issuer: new TokenIssuer(keys, clock),
    verifier: new RealmTokenVerifier(keys, clock),
    realm,
    iss: `https://tessera.example/realms/${realm.name}`,
    kid,
    privateKey,
    nodeKey: createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" }),
  };
}

const now = (f: Fixture): number => epochSeconds(f.clock.now());

/** Claims of a valid access token of the fixture's realm. */
const claimsOf = (f: Fixture, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: f.iss,
  sub: "alice",
  aud: "orders-api",
  exp: now(f) + 300,
  iat: now(f),
  jti: randomUUID(),
  ...extra,
});

/** The header the issuer writes. */
const headerOf = (f: Fixture, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  alg: f.realm.signingAlgorithm,
  typ: "at+jwt",
  kid: f.kid,
  ...extra,
});

/** base64url of a JSON value, or of the text itself when given a string. */
const segment = (value: unknown): string => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** node:crypto parameters of each algorithm (RFC 7518 §3.3–§3.5, RFC 8037 §3.1), for crafting signatures. */
function nodeSignature(algorithm: string, key: KeyObject, input: string, options: Record<string, unknown> = {}): Buffer {
  const data = Buffer.from(input);
  if (algorithm === "EdDSA") return nodeSign(null, data, key);
  if (algorithm === "ES256") return nodeSign("sha256", data, { key, dsaEncoding: "ieee-p1363", ...options });
  if (algorithm === "PS256") return nodeSign("sha256", data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32, ...options });
  return nodeSign("sha256", data, { key, ...options });
}

/** A compact JWS of `header` and `payload` (strings taken as the raw text) signed with the fixture's key. */
function craft(f: Fixture, header: unknown, payload: unknown, key: KeyObject = f.nodeKey): string {
  const input = `${segment(header)}.${segment(payload)}`;
  return `${input}.${nodeSignature(f.realm.signingAlgorithm, key, input).toString("base64url")}`;
}

/** Replaces segment `index` of a compact token. */
function withSegment(token: string, index: number, value: string): string {
  const parts = token.split(".");
  parts[index] = value;
  return parts.join(".");
}

const signatureOf = (token: string): Buffer => Buffer.from(token.split(".")[2], "base64url");

const verify = (f: Fixture, token: string) => f.verifier.verifyAccessToken(f.realm.name, f.iss, token);

async function refused(f: Fixture, token: string, reason: TokenRejection): Promise<void> {
  await assert.rejects(verify(f, token), (error: unknown) => {
    assert.ok(error instanceof TokenVerificationError, `expected TokenVerificationError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

async function accepted(f: Fixture, token: string): Promise<JWTPayload> {
  return verify(f, token);
}

/** Claims the issuer is asked to sign. */
const tokenClaims = (f: Fixture): TokenClaims => ({ sub: "alice", aud: ["orders-api"], exp: now(f) + 300, scope: "orders.read", client_id: "gateway" });

describe("realm tokens: interop with jose", () => {
  for (const algorithm of SIGNING_ALGORITHMS) {
    describe(algorithm, () => {
      it("a token the issuer signs verifies with jose against the realm's JWKS", async () => {
        const f = await fixture(algorithm);
        const signed = await f.issuer.issueAccessToken(f.realm, f.iss, tokenClaims(f));
        const { payload, protectedHeader } = await jwtVerify(signed.token, createLocalJWKSet(await f.keys.jwks(f.realm.name)), {
          issuer: f.iss,
          typ: "at+jwt",
          algorithms: [algorithm],
          requiredClaims: ["sub", "exp", "iat", "jti"],
          currentDate: f.clock.now(),
        });
        assert.deepEqual(protectedHeader, { alg: algorithm, typ: "at+jwt", kid: f.kid });
        assert.deepEqual(payload, { ...tokenClaims(f), iss: f.iss, iat: now(f), jti: signed.jti });
        assert.equal(signed.expiresIn, 300);
        // and back through the verifier
        assert.deepEqual(await accepted(f, signed.token), payload);
      });

      it("a key the store generates signs tokens jose verifies, ID tokens too", async () => {
        const f = await fixture(algorithm);
        const generated = await f.keys.rotate(f.realm);
        const jwks = createLocalJWKSet(await f.keys.jwks(f.realm.name));
        const access = await f.issuer.issueAccessToken(f.realm, f.iss, tokenClaims(f));
        const id = await f.issuer.issueIdToken(f.realm, f.iss, tokenClaims(f));
        const options = { issuer: f.iss, algorithms: [algorithm], currentDate: f.clock.now() };
        assert.equal((await jwtVerify(access.token, jwks, { ...options, typ: "at+jwt" })).protectedHeader.kid, generated.kid);
        assert.equal((await jwtVerify(id.token, jwks, { ...options, typ: "JWT" })).payload.jti, id.jti);
        await accepted(f, access.token);
        // RFC 9068 §4: an ID token is no access token
        await refused(f, id.token, "wrong type");
      });

      it("the verifier accepts a token jose signed with the realm's key", async () => {
        const f = await fixture(algorithm);
        const claims = claimsOf(f, { act: { sub: "gateway" } });
        const token = await new SignJWT(claims).setProtectedHeader({ alg: algorithm, typ: "at+jwt", kid: f.kid }).sign(f.privateKey);
        assert.deepEqual(await accepted(f, token), claims);
      });

      it("refuses a tampered payload, a tampered signature and a signature of the wrong length", async () => {
        const f = await fixture(algorithm);
        const { token } = await f.issuer.issueAccessToken(f.realm, f.iss, tokenClaims(f));
        await refused(f, withSegment(token, 1, segment(claimsOf(f, { sub: "mallory" }))), "signature invalid");
        const signature = signatureOf(token);
        const flipped = Buffer.from(signature);
        flipped[flipped.length >> 1] ^= 0x01;
        await refused(f, withSegment(token, 2, flipped.toString("base64url")), "signature invalid");
        await refused(f, withSegment(token, 2, signature.subarray(0, -1).toString("base64url")), "signature invalid");
        await refused(f, withSegment(token, 2, Buffer.concat([signature, Buffer.alloc(1)]).toString("base64url")), "signature invalid");
        await refused(f, withSegment(token, 2, Buffer.concat([Buffer.alloc(1), signature]).toString("base64url")), "signature invalid");
      });
    });
  }

  it("ES256 signatures are R||S, exactly 64 bytes; a DER signature of the same input is refused", async () => {
    const f = await fixture("ES256");
    const { token } = await f.issuer.issueAccessToken(f.realm, f.iss, tokenClaims(f));
    assert.equal(signatureOf(token).length, 64);
    const input = token.slice(0, token.lastIndexOf("."));
    const der = nodeSignature("ES256", f.nodeKey, input, { dsaEncoding: "der" });
    await refused(f, `${input}.${der.toString("base64url")}`, "signature invalid");
  });

  it("PS256 salt is 32 bytes: a PSS signature with another salt length is refused", async () => {
    const f = await fixture("PS256");
    const input = `${segment(headerOf(f))}.${segment(claimsOf(f))}`;
    for (const saltLength of [0, 20, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
      const signature = nodeSignature("PS256", f.nodeKey, input, { saltLength });
      await refused(f, `${input}.${signature.toString("base64url")}`, "signature invalid");
    }
    await accepted(f, craft(f, headerOf(f), claimsOf(f)));
  });

  it("RS256 and PS256 keys do not stand in for each other", async () => {
    const f = await fixture("RS256");
    const input = `${segment(headerOf(f, { alg: "PS256" }))}.${segment(claimsOf(f))}`;
    const pss = nodeSignature("PS256", f.nodeKey, input);
    await refused(f, `${input}.${pss.toString("base64url")}`, "unknown key");
  });
});

describe("realm tokens: refusals", () => {
  it("accepts the well-formed token the refusals below start from", async () => {
    const f = await fixture();
    const claims = claimsOf(f);
    assert.deepEqual(await accepted(f, craft(f, headerOf(f), claims)), claims);
  });

  it("refuses alg none, HS256 with the public key as secret, and algorithms outside the allow-list", async () => {
    const f = await fixture();
    const claims = claimsOf(f);
    const none = `${segment(headerOf(f, { alg: "none" }))}.${segment(claims)}`;
    await refused(f, `${none}.`, "malformed");
    await refused(f, `${none}.${segment("x")}`, "malformed");
    const publicKey = createPublicKey(f.nodeKey);
    const secrets = [publicKey.export({ type: "spki", format: "pem" }), publicKey.export({ type: "spki", format: "der" }), JSON.stringify(publicKey.export({ format: "jwk" }))];
    for (const secret of secrets) {
      const input = `${segment(headerOf(f, { alg: "HS256" }))}.${segment(claims)}`;
      await refused(f, `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`, "malformed");
    }
    await refused(f, craft(f, headerOf(f, { alg: "ES384" }), claims), "malformed");
    await refused(f, craft(f, headerOf(f, { alg: undefined }), claims), "malformed");
    await refused(f, craft(f, headerOf(f, { alg: ["ES256"] }), claims), "malformed");
  });

  it("refuses an allowed alg that is not the algorithm of the key named by kid", async () => {
    const f = await fixture();
    for (const alg of ["RS256", "PS256", "EdDSA"]) await refused(f, craft(f, headerOf(f, { alg }), claimsOf(f)), "unknown key");
    // with an RSA key in the realm too: its kid does not take ES256 signatures either
    const rsa = await f.keys.rotate(f.realm, { algorithm: "RS256" });
    await refused(f, craft(f, headerOf(f, { kid: rsa.kid }), claimsOf(f)), "unknown key");
  });

  it("takes the key only from the realm by kid: unknown, missing or non-string kid, and keys in the header are refused", async () => {
    const f = await fixture();
    await refused(f, craft(f, headerOf(f, { kid: "no-such-kid" }), claimsOf(f)), "unknown key");
    await refused(f, craft(f, headerOf(f, { kid: undefined }), claimsOf(f)), "unknown key");
    await refused(f, craft(f, headerOf(f, { kid: 1 }), claimsOf(f)), "unknown key");
    // an attacker's key offered in the header, with the realm's kid: the realm's key checks the signature
    const attacker = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = attacker.publicKey.export({ format: "jwk" });
    for (const offered of [{ jwk }, { jku: "https://attacker.example/jwks" }, { x5u: "https://attacker.example/cert" }, { x5c: ["MIIB"] }]) {
      await refused(f, craft(f, headerOf(f, offered), claimsOf(f), attacker.privateKey), "signature invalid");
    }
  });

  it("requires typ at+jwt, compared as a media type (case-insensitive, application/ optional)", async () => {
    const f = await fixture();
    for (const typ of ["JWT", "jwt", "application/jwt", "at+jwt2", "text/at+jwt", "application/at+jwt; x=y", "", 1, undefined]) {
      await refused(f, craft(f, headerOf(f, { typ }), claimsOf(f)), "wrong type");
    }
    for (const typ of ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"]) await accepted(f, craft(f, headerOf(f, { typ }), claimsOf(f)));
  });

  it("refuses crit (no extension is understood) and b64 false", async () => {
    const f = await fixture();
    const claims = claimsOf(f);
    await refused(f, craft(f, headerOf(f, { crit: ["exp"], exp: claims.exp }), claims), "malformed");
    await refused(f, craft(f, headerOf(f, { crit: ["b64"], b64: true }), claims), "malformed");
    await refused(f, craft(f, headerOf(f, { crit: [] }), claims), "malformed");
    // RFC 7797: an unencoded payload, signed as such
    const header = segment(headerOf(f, { crit: ["b64"], b64: false }));
    const raw = JSON.stringify(claims);
    const signature = nodeSignature("ES256", f.nodeKey, `${header}.${raw}`).toString("base64url");
    await refused(f, `${header}.${segment(raw)}.${signature}`, "malformed");
    await refused(f, craft(f, headerOf(f, { b64: false }), claims), "malformed");
  });

  it("refuses another issuer and a missing iss", async () => {
    const f = await fixture();
    await refused(f, craft(f, headerOf(f), claimsOf(f, { iss: "https://tessera.example/realms/other" })), "wrong issuer");
    await refused(f, craft(f, headerOf(f), claimsOf(f, { iss: undefined })), "wrong issuer");
  });

  it("refuses a token on and after its exp without leeway: one clock issues and checks the realm's tokens", async () => {
    const f = await fixture();
    await refused(f, craft(f, headerOf(f), claimsOf(f, { exp: now(f) })), "expired");
    await refused(f, craft(f, headerOf(f), claimsOf(f, { exp: now(f) - 1 })), "expired");
    await refused(f, craft(f, headerOf(f), claimsOf(f, { exp: now(f) - 3600 })), "expired");
    await accepted(f, craft(f, headerOf(f), claimsOf(f, { exp: now(f) + 1 })));
    // the same token, once the clock has moved on
    const token = craft(f, headerOf(f), claimsOf(f, { exp: now(f) + 10 }));
    f.clock.advance(9);
    await accepted(f, token);
    f.clock.advance(1);
    await refused(f, token, "expired");
  });

  it("refuses nbf in the future; iat in the future is not checked (as jwtVerify without maxTokenAge)", async () => {
    const f = await fixture();
    await refused(f, craft(f, headerOf(f), claimsOf(f, { nbf: now(f) + 1 })), "not yet valid");
    await accepted(f, craft(f, headerOf(f), claimsOf(f, { nbf: now(f) })));
    await accepted(f, craft(f, headerOf(f), claimsOf(f, { nbf: now(f) - 60 })));
    await refused(f, craft(f, headerOf(f), claimsOf(f, { nbf: String(now(f) - 60) })), "not yet valid");
    await accepted(f, craft(f, headerOf(f), claimsOf(f, { iat: now(f) + 60 })));
  });

  it("with a configured skew, accepts exp and nbf within it and nothing beyond", async () => {
    const base = await fixture();
    const f = { ...base, verifier: new RealmTokenVerifier(base.keys, base.clock, 5) };
    await accepted(f, craft(f, headerOf(f), claimsOf(f, { exp: now(f) - 4 })));
    await refused(f, craft(f, headerOf(f), claimsOf(f, { exp: now(f) - 5 })), "expired");
    await accepted(f, craft(f, headerOf(f), claimsOf(f, { nbf: now(f) + 5 })));
    await refused(f, craft(f, headerOf(f), claimsOf(f, { nbf: now(f) + 6 })), "not yet valid");
  });

  it("requires sub, exp, iat and jti with their types", async () => {
    const f = await fixture();
    for (const claim of ["jti", "sub", "exp", "iat"]) {
      await refused(f, craft(f, headerOf(f), claimsOf(f, { [claim]: undefined })), "missing claims");
    }
    for (const wrong of [{ sub: 42 }, { jti: 7 }, { sub: null }, { exp: String(now(f) + 300) }, { iat: String(now(f)) }, { exp: null }]) {
      await refused(f, craft(f, headerOf(f), claimsOf(f, wrong)), "missing claims");
    }
    // JSON.parse reads 1e400 as Infinity: no NumericDate, and never past
    await refused(f, craft(f, headerOf(f), JSON.stringify(claimsOf(f, { exp: 0 })).replace('"exp":0', '"exp":1e400')), "missing claims");
  });

  it("refuses characters outside the base64url alphabet and non-canonical base64url", async () => {
    const f = await fixture();
    const token = craft(f, headerOf(f), claimsOf(f));
    const [header, payload, signature] = token.split(".");
    const bad = [
      `${header}.${payload}.${signature}=`,
      `${header}.${payload}.${signature.slice(0, 10)}+${signature.slice(11)}`,
      `${header}.${payload}.${signature.slice(0, 10)}/${signature.slice(11)}`,
      `${header}.${payload}.${signature.slice(0, 10)} ${signature.slice(11)}`,
      `${header}.${payload}.${signature.slice(0, 10)}é${signature.slice(11)}`,
      `${header}.${payload}.${signature}AAA`, // 89 characters: no whole number of bytes
      `${header} .${payload}.${signature}`,
      `${header}.${payload}\n.${signature}`,
      ` ${token}`,
      `${token}\n`,
    ];
    for (const candidate of bad) await refused(f, candidate, "malformed");
    // the last of the 86 characters of an ES256 signature carries 4 unused bits: one set spells the same bytes otherwise
    const last = signature.at(-1) ?? "";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sibling = alphabet[alphabet.indexOf(last) ^ 1];
    await refused(f, `${header}.${payload}.${signature.slice(0, -1)}${sibling}`, "malformed");
  });

  it("refuses 2, 4 and 5 segments and empty ones", async () => {
    const f = await fixture();
    const token = craft(f, headerOf(f), claimsOf(f));
    const [header, payload, signature] = token.split(".");
    for (const candidate of ["", ".", "..", `${header}.${payload}`, `${token}.${signature}`, `${token}.${signature}.${signature}`, `.${payload}.${signature}`, `${header}..${signature}`]) {
      await refused(f, candidate, "malformed");
    }
  });

  it("refuses a header or payload that is not a JSON object in UTF-8", async () => {
    const f = await fixture();
    const claims = claimsOf(f);
    for (const header of ['{"alg":"ES256"', "[]", "null", '"ES256"', "42"]) await refused(f, craft(f, header, claims), "malformed");
    for (const payload of [[claims], "null", '{"sub":', "42", '"alice"']) await refused(f, craft(f, headerOf(f), payload), "malformed");
    const invalidUtf8 = Buffer.concat([Buffer.from(JSON.stringify(claims).slice(0, -1)), Buffer.from(',"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const input = `${segment(headerOf(f))}.${invalidUtf8.toString("base64url")}`;
    await refused(f, `${input}.${nodeSignature("ES256", f.nodeKey, input).toString("base64url")}`, "malformed");
  });
});

describe("realm tokens: keys over time", () => {
  it("a key rotated to passive still verifies its tokens; once retired its kid is unknown", async () => {
    const f = await fixture();
    const old = await f.issuer.issueAccessToken(f.realm, f.iss, tokenClaims(f));
    const rotated = await f.keys.rotate(f.realm);
    const fresh = await f.issuer.issueAccessToken(f.realm, f.iss, tokenClaims(f));
    assert.equal(decodeProtectedHeader(fresh.token).kid, rotated.kid);
    assert.equal((await f.keys.list(f.realm.name)).find((k) => k.kid === f.kid)?.state, "passive");
    await accepted(f, old.token);
    await accepted(f, fresh.token);
    // past retireAt the key leaves the JWKS and the verification keys together, at the next load
    f.clock.advance((f.keys.retirementTime(f.realm).getTime() - f.clock.now().getTime()) / 1000 + 31);
    assert.ok(!(await f.keys.jwks(f.realm.name)).keys.some((k) => k.kid === f.kid));
    await refused(f, old.token, "unknown key");
  });

  it("finds a key another instance created, reading the set again at most once a second", async () => {
    const f = await fixture();
    await accepted(f, craft(f, headerOf(f), claimsOf(f)));
    const other = new RealmKeyStore(f.repository, f.cipher, f.clock);
    const created = await other.rotate(f.realm);
    const token = (await new TokenIssuer(other, f.clock).issueAccessToken(f.realm, f.iss, tokenClaims(f))).token;
    assert.equal(decodeProtectedHeader(token).kid, created.kid);
    await refused(f, token, "unknown key"); // this instance read the set less than a second ago
    f.clock.advance(1);
    await accepted(f, token);
  });

  it("publishes the JWKS and verifies without the master key; only signing needs it, and says so", async () => {
    const f = await fixture();
    const token = craft(f, headerOf(f), claimsOf(f));
    const wrongKey = new RealmKeyStore(f.repository, new MasterKeyCipher(randomBytes(32)), f.clock);
    assert.deepEqual(await wrongKey.jwks(f.realm.name), await f.keys.jwks(f.realm.name));
    const claims = await new RealmTokenVerifier(wrongKey, f.clock).verifyAccessToken(f.realm.name, f.iss, token);
    assert.equal(claims.sub, "alice");
    await assert.rejects(wrongKey.signingKey(f.realm), { code: "ERR_JWE_DECRYPTION_FAILED" });
  });

  it("passes storage failures through unchanged", async () => {
    const f = await fixture();
    const failing = new StorageUnavailableError("storage down");
    f.repository.listSigningKeys = async () => {
      throw failing;
    };
    const verifier = new RealmTokenVerifier(new RealmKeyStore(f.repository, f.cipher, f.clock), f.clock);
    await assert.rejects(verifier.verifyAccessToken(f.realm.name, f.iss, craft(f, headerOf(f), claimsOf(f))), (error) => error === failing);
  });

  it("refuses an RSA key shorter than 2048 bits on import, and verifies nothing with one already stored", async () => {
    const f = await fixture();
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const jwk = { ...(weak.privateKey.export({ format: "jwk" }) as JWK), alg: "RS256" };
    await assert.rejects(f.keys.importKey(f.realm, jwk, false), SigningKeyError);
    const kid = "weak-rsa";
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
    await f.repository.addSigningKey(f.realm.name, {
      kid,
      algorithm: "RS256",
      state: "passive",
      publicJwk: { ...publicJwk, kid, use: "sig" },
      encryptedPrivateJwk: await f.cipher.encryptJwk({ ...jwk, kid }, `${f.realm.name}/${kid}`),
      createdAt: new Date(0),
    });
    f.clock.advance(60); // past the cache
    const input = `${segment(headerOf(f, { alg: "RS256", kid }))}.${segment(claimsOf(f))}`;
    await refused(f, `${input}.${nodeSignature("RS256", weak.privateKey, input).toString("base64url")}`, "unknown key");
    await accepted(f, craft(f, headerOf(f), claimsOf(f)));
  });
});
