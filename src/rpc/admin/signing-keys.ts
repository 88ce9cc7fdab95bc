import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { JWK } from "jose";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { SigningKeySchema, type SigningKey as SigningKeyMessage } from "../../../gen/tessera/admin/v1/signing_key_pb.js";
import { SIGNING_ALGORITHMS, type Realm, type SigningAlgorithm, type SigningKey } from "../../domain/index.js";
import { effectiveKeyState, SigningKeyError, type RealmKeyStore } from "../../tokens/realm-keys.js";
import { invalidField, notFound } from "./errors.js";
import { updateVersioned } from "./updates.js";
import { noteAdminChange } from "../admin-auth.js";
import type { AdminHandlerDeps } from "./handler-deps.js";

/** The signing-key methods of the AdminService. */
export type SigningKeyMethods = Pick<ServiceImpl<typeof AdminService>, "listSigningKeys" | "rotateSigningKey" | "importSigningKey">;

/** What the signing-key methods need. */
export interface SigningKeyMethodDeps extends AdminHandlerDeps {
  keys: RealmKeyStore;
}

/** A key's public view: never its private half. */
export function signingKeyToMessage(key: SigningKey, now: Date): SigningKeyMessage {
  return create(SigningKeySchema, {
    kid: key.kid,
    algorithm: key.algorithm,
    state: effectiveKeyState(key, now),
    createdAt: timestampFromDate(key.createdAt),
    ...(key.retireAt && { retireAt: timestampFromDate(key.retireAt) }),
    publicJwkJson: JSON.stringify(key.publicJwk),
    origin: key.origin ?? "generated",
  });
}

/** What the audit trail digests of a realm's keys: public halves and states, never the private halves. */
function publicView(keys: SigningKey[]): unknown {
  return keys.map(({ kid, algorithm, state, publicJwk, retireAt }) => ({ kid, algorithm, state, publicJwk, retireAt }));
}

/** Listing, rotation and import of a realm's signing keys; the realm's algorithm follows the active key. */
export function signingKeyMethods(deps: SigningKeyMethodDeps): SigningKeyMethods {
  const { repository, keys, clock, requireRealm } = deps;

  /** The realm with `algorithm` as its signing algorithm (changed with an admin write if it differs). */
  const withAlgorithm = async (realm: Realm, algorithm: SigningAlgorithm): Promise<Realm> => {
    if (realm.signingAlgorithm === algorithm) return realm;
    const { after } = await updateVersioned(repository, clock, {
      realm: realm.name,
      kind: "realm",
      key: realm.name,
      etag: "",
      read: () => repository.getRealm(realm.name),
      apply: async (current) => ({ ...current, signingAlgorithm: algorithm }),
      write: (next) => repository.updateRealm(next),
      notFound: () => notFound(`realm ${realm.name}`),
    });
    return after;
  };

  const refused = (field: string) => (error: unknown) => {
    if (error instanceof SigningKeyError) throw invalidField(field, error.message);
    throw error;
  };

  return {
    listSigningKeys: async ({ realm }) => {
      await requireRealm(realm);
      const now = clock.now();
      return { keys: (await keys.list(realm)).map((k) => signingKeyToMessage(k, now)) };
    },
    rotateSigningKey: async ({ realm: name, algorithm, activateKid }, context) => {
      let realm = await requireRealm(name);
      const before = publicView(await repository.listSigningKeys(name));
      if (algorithm !== "" && activateKid !== "") throw invalidField("algorithm", "expected either algorithm or activate_kid, not both");
      if (algorithm !== "") {
        const chosen = SIGNING_ALGORITHMS.find((a) => a === algorithm);
        if (!chosen) throw invalidField("algorithm", `expected one of ${SIGNING_ALGORITHMS.join(" | ")}`);
        realm = await withAlgorithm(realm, chosen);
      }
      let active: SigningKey;
      if (activateKid !== "") {
        const passive = (await repository.listSigningKeys(name)).find((k) => k.kid === activateKid);
        if (passive) realm = await withAlgorithm(realm, passive.algorithm);
        active = await keys.rotate(realm, { activateKid }).catch(refused("activate_kid"));
      } else {
        active = await keys.rotate(realm);
      }
      const now = clock.now();
      const after = await keys.list(name);
      noteAdminChange(context, { resource: `keys/${active.kid}`, before, after: publicView(after) });
      return { active: signingKeyToMessage(active, now), keys: after.map((k) => signingKeyToMessage(k, now)) };
    },
    importSigningKey: async ({ realm: name, privateJwkJson, activate }, context) => {
      let realm = await requireRealm(name);
      const before = publicView(await repository.listSigningKeys(name));
      let jwk: JWK;
      try {
        jwk = JSON.parse(privateJwkJson) as JWK;
      } catch {
        throw invalidField("private_jwk_json", "expected a JWK as JSON");
      }
      if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw invalidField("private_jwk_json", "expected a JWK as JSON");
      const algorithm = SIGNING_ALGORITHMS.find((a) => a === jwk.alg);
      if (activate && algorithm) realm = await withAlgorithm(realm, algorithm);
      const key = await keys.importKey(realm, jwk, activate).catch(refused("private_jwk_json"));
      noteAdminChange(context, { resource: `keys/${key.kid}`, before, after: publicView(await repository.listSigningKeys(name)) });
      return { key: signingKeyToMessage(key, clock.now()) };
    },
  };
}
