import type { Client } from "../../domain/index.js";
import type { ClientStore } from "../composed-realm-repository.js";
import { listOf, putUnique, replaceExisting } from "./copies.js";
import type { MemoryState } from "./memory-state.js";

/** A realm's clients, by client id. */
export class MemoryClientStore implements ClientStore {
  constructor(private readonly state: MemoryState) {}

  async createClient(realm: string, client: Client): Promise<void> {
    putUnique(this.state.required(realm).clients, client.clientId, client, "client");
  }

  async getClient(realm: string, clientId: string): Promise<Client | undefined> {
    const client = this.state.data(realm)?.clients.get(clientId);
    return client && structuredClone(client);
  }

  async findClientByResourceUri(realm: string, uri: string): Promise<Client | undefined> {
    const clients = this.state.data(realm)?.clients.values() ?? [];
    for (const client of clients) if (client.resourceUris.includes(uri)) return structuredClone(client);
    return undefined;
  }

  async listClients(realm: string): Promise<Client[]> {
    return listOf(this.state.data(realm)?.clients, (c) => c.clientId);
  }

  async updateClient(realm: string, client: Client): Promise<void> {
    replaceExisting(this.state.required(realm).clients, client.clientId, client, "client");
  }

  async deleteClient(realm: string, clientId: string): Promise<boolean> {
    return this.state.data(realm)?.clients.delete(clientId) ?? false;
  }
}
