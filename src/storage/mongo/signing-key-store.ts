import type { UpdateFilter } from "mongodb";
import type { SigningKey } from "../../domain/index.js";
import type { SigningKeyStore } from "../composed-realm-repository.js";
import { HIDDEN_FIELDS, type MongoStoreContext } from "./collections.js";
import type { SigningKeyDoc } from "./documents.js";
import { requireRealm } from "./realm-store.js";

/** A realm's signing keys, unique by (realm, kid), listed newest first. */
export class MongoSigningKeyStore implements SigningKeyStore {
  constructor(private readonly context: MongoStoreContext) {}

  async addSigningKey(realm: string, key: SigningKey): Promise<void> {
    const { collections, calls } = this.context;
    await requireRealm(this.context, realm);
    await calls.call(() => collections.keys.insertOne({ ...key, realm }), `signing key ${key.kid} already exists in realm ${realm}`);
  }

  async listSigningKeys(realm: string): Promise<SigningKey[]> {
    const { collections, calls } = this.context;
    return calls.call(() =>
      collections.keys.find<SigningKey>({ realm }, { projection: HIDDEN_FIELDS }).sort({ createdAt: -1, _id: -1 }).toArray(),
    );
  }

  async updateSigningKeyState(realm: string, kid: string, state: SigningKey["state"], retireAt?: Date): Promise<boolean> {
    const { collections, calls } = this.context;
    const update: UpdateFilter<SigningKeyDoc> =
      retireAt === undefined ? { $set: { state }, $unset: { retireAt: "" } } : { $set: { state, retireAt } };
    const result = await calls.call(() => collections.keys.updateOne({ realm, kid }, update));
    return result.matchedCount === 1;
  }
}
