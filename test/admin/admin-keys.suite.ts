/**
 * Signing keys through the AdminService (issue 5 item 4): listing, rotation with live tokens,
 * retirement once every token a key signed has expired, per-realm algorithm change, import.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, type Client } from "@connectrpc/connect";
import { decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from "jose";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { postForm, verifyWithJwks } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { TestClock } from "../support/test-clock.js";
import { ADMIN_SUITE_MASTER_KEY, connectErrorOf } from "./admin-auth.suite.js";

/** Signing keys against one storage adapter. */
export function runAdminKeysSuite(storage: string, openRepository: () => Promise<RealmRepository>): void {
  describe(`AdminService signing keys (${storage})`, () => {
    const clock = new TestClock();
    let tessera: TesseraHarness;
    let admin: Client<typeof AdminService>;

    before(async () => {
      tessera = await startTessera({ repository: await openRepository(), masterKey: ADMIN_SUITE_MASTER_KEY, clock });
      admin = (await tessera.adminCaller()).admin("grpc");
    });
    after(async () => {
      await tessera.stop();
      await tessera.repository.close();
    });

    /** A fresh realm of the test realm file. */
    const newRealm = async (): Promise<string> => {
      const name = `keys-${randomUUID().slice(0, 8)}`;
      await tessera.repository.importRealm((await buildTestRealm(name)).bundle);
      return name;
    };
    const gatewayToken = async (realm: string, scope = "orders.read"): Promise<string> => {
      const answer = await postForm(tessera.tokenUrl(realm), { grant_type: "client_credentials", scope }, { basic: ["gateway", SECRETS.gateway] });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return String(answer.body.access_token);
    };
    const jwksKids = async (realm: string): Promise<string[]> => {
      const answer = await fetch(`${tessera.issuer(realm)}/protocol/openid-connect/certs`);
      return ((await answer.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    };
    const exchange = (realm: string, subjectToken: string) =>
      postForm(
        tessera.tokenUrl(realm),
        { grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: subjectToken, subject_token_type: "urn:ietf:params:oauth:token-type:access_token", audience: "orders-api" },
        { basic: ["gateway", SECRETS.gateway] },
      );

    it("RotateSigningKey: tokens signed before keep verifying and exchanging; the old key is passive in the JWKS until its tokens expired, then retired", async () => {
      clock.reset();
      const realm = await newRealm();
      const before = await gatewayToken(realm);
      const oldKid = decodeProtectedHeader(before).kid ?? "";
      const { active, keys } = await admin.rotateSigningKey({ realm });
      assert.ok(active && active.kid !== oldKid && active.state === "active");
      const old = keys.find((k) => k.kid === oldKid);
      assert.equal(old?.state, "passive");
      assert.ok(old?.retireAt, "a passive key has a retirement time");
      const retireAt = Number(old.retireAt.seconds) * 1000;
      const expiresAt = Number((JSON.parse(Buffer.from(before.split(".")[1], "base64url").toString()) as { exp: number }).exp) * 1000;
      assert.ok(retireAt > expiresAt, "the old key outlives every token it signed");
      assert.deepEqual((await jwksKids(realm)).sort(), [active.kid, oldKid].sort());
      await verifyWithJwks(before, tessera.issuer(realm));
      assert.equal((await exchange(realm, before)).status, 200, "a token signed before the rotation is still a valid subject token");
      const after = await gatewayToken(realm);
      assert.equal(decodeProtectedHeader(after).kid, active.kid, "new tokens are signed by the new key");
      clock.advance((expiresAt - Date.now()) / 1000 - 10);
      assert.ok((await jwksKids(realm)).includes(oldKid), "still published while a token it signed lives");
      clock.advance((retireAt - expiresAt) / 1000 + 20);
      assert.deepEqual(await jwksKids(realm), [active.kid], "retired once every token it signed has expired");
      const listed = (await admin.listSigningKeys({ realm })).keys;
      assert.equal(listed.find((k) => k.kid === oldKid)?.state, "retired");
      assert.equal((await tessera.repository.listSigningKeys(realm)).find((k) => k.kid === oldKid)?.state, "retired", "recorded as retired");
      clock.reset();
    });

    it("UpdateRealm signing_algorithm RS256: new tokens are RS256, ES256 tokens signed before still verify, the ES256 key turns passive", async () => {
      const realm = await newRealm();
      const es256 = await gatewayToken(realm);
      await admin.updateRealm({ realm: { name: realm, signingAlgorithm: "RS256" } });
      const rs256 = await gatewayToken(realm);
      assert.equal(decodeProtectedHeader(rs256).alg, "RS256");
      await verifyWithJwks(rs256, tessera.issuer(realm));
      await verifyWithJwks(es256, tessera.issuer(realm));
      const keys = (await admin.listSigningKeys({ realm })).keys;
      assert.deepEqual(keys.map((k) => [k.algorithm, k.state]), [["RS256", "active"], ["ES256", "passive"]]);
    });

    it("RotateSigningKey with an algorithm changes the realm's algorithm (EdDSA)", async () => {
      const realm = await newRealm();
      await gatewayToken(realm);
      const { active } = await admin.rotateSigningKey({ realm, algorithm: "EdDSA" });
      assert.equal(active?.algorithm, "EdDSA");
      assert.equal((await admin.getRealm({ name: realm })).realm?.signingAlgorithm, "EdDSA");
      assert.equal(decodeProtectedHeader(await gatewayToken(realm)).alg, "EdDSA");
      assert.equal((await connectErrorOf(admin.rotateSigningKey({ realm, algorithm: "HS256" }))).code, Code.InvalidArgument);
    });

    it("ImportSigningKey as passive publishes it without signing; activating it makes it sign; its private half is never returned", async () => {
      const realm = await newRealm();
      const first = decodeProtectedHeader(await gatewayToken(realm)).kid;
      const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
      const kid = `external-${randomUUID().slice(0, 6)}`;
      const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: "ES256" };
      const { key } = await admin.importSigningKey({ realm, privateJwkJson: JSON.stringify(jwk) });
      assert.equal(key?.state, "passive");
      assert.equal(key?.origin, "imported");
      assert.doesNotMatch(key?.publicJwkJson ?? "", /"d"/);
      assert.ok((await jwksKids(realm)).includes(kid), "pre-published");
      assert.equal(decodeProtectedHeader(await gatewayToken(realm)).kid, first, "a passive key does not sign");
      await admin.rotateSigningKey({ realm, activateKid: kid });
      const signed = await gatewayToken(realm);
      assert.equal(decodeProtectedHeader(signed).kid, kid);
      await jwtVerify(signed, publicKey, { issuer: tessera.issuer(realm) });
      const listed = JSON.stringify((await admin.listSigningKeys({ realm })).keys.map((k) => k.publicJwkJson));
      assert.doesNotMatch(listed, new RegExp(String(jwk.d)));
    });

    it("ImportSigningKey with activate of another algorithm signs at once and the realm's algorithm follows", async () => {
      const realm = await newRealm();
      const { privateKey } = await generateKeyPair("PS256", { extractable: true });
      const jwk: JWK = { ...(await exportJWK(privateKey)), alg: "PS256" };
      const { key } = await admin.importSigningKey({ realm, privateJwkJson: JSON.stringify(jwk), activate: true });
      assert.equal(key?.state, "active");
      assert.ok(key?.kid, "a kid is given to a key without one");
      const token = await gatewayToken(realm);
      assert.deepEqual([decodeProtectedHeader(token).alg, decodeProtectedHeader(token).kid], ["PS256", key.kid]);
      assert.equal((await admin.getRealm({ name: realm })).realm?.signingAlgorithm, "PS256");
      await jwtVerify(token, await importJWK(JSON.parse(key.publicJwkJson) as JWK, "PS256"));
    });

    it("ImportSigningKey of a public key, without alg, of HS256 or not JSON is INVALID_ARGUMENT on private_jwk_json; activating an unknown kid too", async () => {
      const realm = await newRealm();
      const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
      for (const text of [
        JSON.stringify({ ...(await exportJWK(publicKey)), alg: "ES256" }),
        JSON.stringify(await exportJWK(privateKey)),
        JSON.stringify({ kty: "oct", k: "c2VjcmV0", alg: "HS256" }),
        "{not json",
        "[]",
      ]) {
        const error = await connectErrorOf(admin.importSigningKey({ realm, privateJwkJson: text }));
        assert.equal(error.code, Code.InvalidArgument, text);
        assert.equal(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field, "private_jwk_json");
      }
      assert.equal((await connectErrorOf(admin.rotateSigningKey({ realm, activateKid: "nope" }))).code, Code.InvalidArgument);
    });
  });
}
