import type { Client } from "../../domain/index.js";
import type { ClientStore } from "../composed-realm-repository.js";
import { StorageNotFoundError } from "../realm-repository.js";
import { HIDDEN_FIELDS, type MongoStoreContext } from "./collections.js";
import { requireRealm } from "./realm-store.js";

/** A realm's clients, unique by (realm, clientId). */
export class MongoClientStore implements ClientStore {
  constructor(private readonly context: MongoStoreContext) {}

  async createClient(realm: string, client: Client): Promise<void> {
    const { collections, calls } = this.context;
    await requireRealm(this.context, realm);
    await calls.call(() => collections.clients.insertOne({ ...client, realm }), `client ${client.clientId} already exists in realm ${realm}`);
  }

  async getClient(realm: string, clientId: string): Promise<Client | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const found = await collections.clients.findOne<Client>({ realm, clientId }, { projection: HIDDEN_FIELDS });
      return found ?? undefined;
    });
  }

  async findClientByResourceUri(realm: string, uri: string): Promise<Client | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const found = await collections.clients.findOne<Client>(
        { realm, resourceUris: uri },
        { projection: HIDDEN_FIELDS, sort: { clientId: 1 } },
      );
      return found ?? undefined;
    });
  }

  async listClients(realm: string): Promise<Client[]> {
    const { collections, calls } = this.context;
    return calls.call(() => collections.clients.find<Client>({ realm }, { projection: HIDDEN_FIELDS }).sort({ clientId: 1 }).toArray());
  }

  async updateClient(realm: string, client: Client): Promise<void> {
    const { collections, calls } = this.context;
    const result = await calls.call(() => collections.clients.replaceOne({ realm, clientId: client.clientId }, { ...client, realm }));
    if (result.matchedCount === 0) {
      throw new StorageNotFoundError(`client ${client.clientId} not found in realm ${realm}`);
    }
  }

  async deleteClient(realm: string, clientId: string): Promise<boolean> {
    const { collections, calls } = this.context;
    return calls.call(async () => (await collections.clients.deleteOne({ realm, clientId })).deletedCount === 1);
  }
}
