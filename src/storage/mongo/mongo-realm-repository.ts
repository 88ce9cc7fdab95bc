import { MongoClient } from "mongodb";
import { ComposedRealmRepository } from "../composed-realm-repository.js";
import { StorageUnavailableError } from "../realm-repository.js";
import { MongoClientStore } from "./client-store.js";
import { createIndexes, openCollections, type MongoStoreContext } from "./collections.js";
import { dbNameOf, hostsOf, redact } from "./connection-string.js";
import { MongoEventStore } from "./event-store.js";
import { MongoIdentityProviderStore } from "./identity-provider-store.js";
import { MongoLinkStore } from "./link-store.js";
import { isUnavailable, MongoCalls } from "./mongo-calls.js";
import { MongoOneTimeClaimStore } from "./one-time-claim-store.js";
import { MongoRealmStore } from "./realm-store.js";
import { MongoRefreshTokenStore } from "./refresh-token-store.js";
import { MongoRevocationStore } from "./revocation-store.js";
import { MongoScopeStore } from "./scope-store.js";
import { MongoSessionStore } from "./session-store.js";
import { MongoSigningKeyStore } from "./signing-key-store.js";
import { MongoUserStore } from "./user-store.js";

/** Options of {@link MongoRealmRepository.connect}. */
export interface MongoRealmRepositoryOptions {
  /** Database name; defaults to the URI's path, else `tessera`. */
  dbName?: string;
  /**
   * How long connecting, and later each operation, waits for a reachable server, for a new connection and for
   * each reply before failing with {@link StorageUnavailableError} (`--mongodb-timeout`). Default 5000.
   */
  serverSelectionTimeoutMS?: number;
}

/** Default of {@link MongoRealmRepositoryOptions.serverSelectionTimeoutMS}. */
const DEFAULT_MONGODB_TIMEOUT_MS = 5000;

/**
 * How often the driver checks a server it lost (its default is 10 s): a server back from an outage is used
 * again within about a second, so requests get full service within a few seconds.
 */
const HEARTBEAT_FREQUENCY_MS = 1000;

/**
 * The MongoDB {@link RealmRepository}, on the official driver. Runs on MongoDB 6+ and FerretDB 1.24: it uses
 * no transactions, no TTL indexes and no aggregation. Uniqueness comes from unique indexes created by
 * {@link MongoRealmRepository.connect}; every query of a realm's objects filters by realm. One store per
 * aggregate (in this folder) does the work; they share the collections (`collections.ts`), the documents
 * (`documents.ts`) and the translation of driver errors (`mongo-calls.ts`).
 */
export class MongoRealmRepository extends ComposedRealmRepository {
  readonly #client: MongoClient;
  readonly #oneTimeClaims: MongoOneTimeClaimStore;

  private constructor(client: MongoClient, context: MongoStoreContext) {
    const oneTimeClaims = new MongoOneTimeClaimStore(context);
    super({
      realms: new MongoRealmStore(context),
      clients: new MongoClientStore(context),
      scopes: new MongoScopeStore(context),
      users: new MongoUserStore(context),
      identityProviders: new MongoIdentityProviderStore(context),
      links: new MongoLinkStore(context),
      signingKeys: new MongoSigningKeyStore(context),
      sessions: new MongoSessionStore(context),
      refreshTokens: new MongoRefreshTokenStore(context),
      revocations: new MongoRevocationStore(context),
      events: new MongoEventStore(context),
      oneTimeClaims,
    });
    this.#client = client;
    this.#oneTimeClaims = oneTimeClaims;
  }

  /**
   * Connects, pings and creates the indexes. Rejects with {@link StorageUnavailableError} (naming the
   * host:port, never the credentials) when no server answers within `serverSelectionTimeoutMS`.
   */
  static async connect(uri: string, options: MongoRealmRepositoryOptions = {}): Promise<MongoRealmRepository> {
    const hosts = hostsOf(uri);
    let client: MongoClient | undefined;
    try {
      const timeoutMS = options.serverSelectionTimeoutMS ?? DEFAULT_MONGODB_TIMEOUT_MS;
      client = new MongoClient(uri, {
        // Bounded answers during an outage: no server, a server that does not accept, a server that stops replying.
        serverSelectionTimeoutMS: timeoutMS,
        connectTimeoutMS: timeoutMS,
        socketTimeoutMS: timeoutMS,
        heartbeatFrequencyMS: HEARTBEAT_FREQUENCY_MS,
        ignoreUndefined: true,
        appName: "tessera",
      });
      await client.connect();
      const db = client.db(options.dbName ?? dbNameOf(uri) ?? "tessera");
      await db.command({ ping: 1 });
      const collections = openCollections(db);
      await createIndexes(collections);
      return new MongoRealmRepository(client, { collections, calls: new MongoCalls(hosts) });
    } catch (error) {
      await client?.close().catch(() => {});
      const message = redact(error instanceof Error ? error.message : String(error), uri);
      if (isUnavailable(error)) throw new StorageUnavailableError(`MongoDB at ${hosts} is unavailable: ${message}`);
      throw new Error(`MongoDB at ${hosts}: ${message}`);
    }
  }

  /** Waits for a background sweep under way, then closes the connections. */
  async close(): Promise<void> {
    await this.#oneTimeClaims.settle();
    await this.#client.close();
  }
}
