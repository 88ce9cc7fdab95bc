import type {
  AuditEvent,
  Client,
  IdentityProvider,
  IdentityProviderLink,
  Realm,
  RefreshTokenRecord,
  Scope,
  Session,
  SigningKey,
  User,
} from "../../domain/index.js";
import { StorageNotFoundError, type TokenLineage } from "../realm-repository.js";

/** Everything one realm holds in memory. */
export interface RealmData {
  realm: Realm;
  clients: Map<string, Client>;
  scopes: Map<string, Scope>;
  users: Map<string, User>;
  /** By alias. */
  identityProviders: Map<string, IdentityProvider>;
  /** By `linkKey(alias, externalUserId)`; the same objects as in {@link linksOfUsers}. */
  links: Map<string, IdentityProviderLink>;
  /** User id -> alias -> link. */
  linksOfUsers: Map<string, Map<string, IdentityProviderLink>>;
  keys: SigningKey[];
  /** JSON [clientId, jti] -> when the record may go (epoch milliseconds). */
  usedJtis: Map<string, number>;
}

/**
 * What a realm accumulates at run time: sessions, refresh tokens, lineage, revocations and events. Kept
 * apart from {@link RealmData} because none of it requires the realm to exist when written (events of
 * any realm are appended); it goes with `deleteRealm`, and leftovers of an unknown realm go when a realm
 * of that name is created, as in the Mongo adapter.
 */
export interface RealmRecords {
  sessions: Map<string, Session>;
  /** By token hash. */
  refreshTokens: Map<string, RefreshTokenRecord>;
  /** Jtis of {@link refreshTokens}, for their uniqueness. */
  refreshTokenJtis: Set<string>;
  /** By parent jti. */
  lineage: Map<string, TokenLineage[]>;
  /** Revoked jti -> when the record may go. */
  revocations: Map<string, Date>;
  /** Oldest first (appends are the common case); listings walk it backwards from the newest. */
  events: AuditEvent[];
}

/** The realms of the memory adapter and their records, shared by its stores. */
export class MemoryState {
  /** By realm name. */
  readonly realms = new Map<string, RealmData>();
  /** By realm name; see {@link RealmRecords}. */
  readonly records = new Map<string, RealmRecords>();

  /** A realm's data, if it exists. */
  data(realm: string): RealmData | undefined {
    return this.realms.get(realm);
  }

  /** A realm's data; throws {@link StorageNotFoundError} when it does not exist. */
  required(realm: string): RealmData {
    const data = this.realms.get(realm);
    if (!data) throw new StorageNotFoundError(`realm ${realm} not found`);
    return data;
  }

  /** The records of a realm, created on first write. */
  recordsOf(realm: string): RealmRecords {
    let records = this.records.get(realm);
    if (!records) {
      records = {
        sessions: new Map(),
        refreshTokens: new Map(),
        refreshTokenJtis: new Set(),
        lineage: new Map(),
        revocations: new Map(),
        events: [],
      };
      this.records.set(realm, records);
    }
    return records;
  }
}

/** The empty data of a new realm. */
export function emptyRealmData(realm: Realm): RealmData {
  return {
    realm,
    clients: new Map(),
    scopes: new Map(),
    users: new Map(),
    identityProviders: new Map(),
    links: new Map(),
    linksOfUsers: new Map(),
    keys: [],
    usedJtis: new Map(),
  };
}
