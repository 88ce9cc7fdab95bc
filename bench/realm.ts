import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";

/** The realm every exchange scenario calls. */
export const BENCH_REALM = "bench";

/** The confidential client that gets a token by client credentials and exchanges it. */
export const GATEWAY = { clientId: "gateway", secret: "gateway-secret" } as const;

/** `authorization` header / metadata of {@link GATEWAY} (client_secret_basic). */
export const GATEWAY_BASIC = `Basic ${Buffer.from(`${GATEWAY.clientId}:${GATEWAY.secret}`).toString("base64")}`;

/** Size of a generated realm. */
export interface RealmSize {
  /** Clients in the realm, the three real ones included (at least 3). */
  clients: number;
  /** Users in the realm. */
  users: number;
}

/**
 * A realm file as an object: the demo realm's gateway, orders-api and inventory-api (only
 * those three have secrets, hashed with Argon2 on import), then public filler clients and
 * users up to `size` (public clients and users need no hashing, so 100,000 import quickly).
 */
export function realmDocument(name: string, size: RealmSize): Record<string, unknown> {
  const clients: Record<string, unknown>[] = [
    {
      clientId: GATEWAY.clientId,
      secret: GATEWAY.secret,
      serviceAccount: true,
      defaultScopes: ["profile"],
      optionalScopes: ["orders.read", "orders.write", "inventory.read"],
      tokenExchange: { enabled: true, refreshTokens: "none", scopePolicy: "downscope", mayAct: "orders-api" },
    },
    {
      clientId: "orders-api",
      secret: "orders-secret",
      serviceAccount: true,
      resourceUris: ["https://orders.example.com"],
      defaultScopes: ["profile"],
      optionalScopes: ["inventory.read"],
      tokenExchange: { enabled: true, delegation: true },
    },
    { clientId: "inventory-api", secret: "inventory-secret", resourceUris: ["https://inventory.example.com"] },
  ];
  for (let i = clients.length; i < size.clients; i++) {
    clients.push({ clientId: `filler-${String(i).padStart(6, "0")}`, public: true, defaultScopes: ["profile"], optionalScopes: ["orders.read"] });
  }
  const users = Array.from({ length: size.users }, (_, i) => {
    const username = `user-${String(i).padStart(6, "0")}`;
    return { username, email: `${username}@example.com`, attributes: { department: i % 2 ? "sales" : "warehouse" } };
  });
  return {
    realm: name,
    accessTokenLifespan: 300,
    signingAlgorithm: "ES256",
    scopes: [
      { name: "orders.read", audiences: ["orders-api"] },
      { name: "orders.write", audiences: ["orders-api"] },
      { name: "inventory.read", audiences: ["inventory-api"] },
      { name: "profile" },
    ],
    clients,
    users,
  };
}

/** A seed: the realm files one Tessera process imports with `--import`. */
export interface Seed {
  /** Label in the report, e.g. `10 clients, 1 realm`. */
  label: string;
  files: string[];
  clients: number;
  users: number;
  realms: number;
}

/**
 * Writes the seed realm files into `dir`: `extraRealms` realms of 10 clients and 10 users, then
 * the bench realm of `size`. JSON (parsed by the same YAML parser; as fast), or YAML.
 */
export async function writeSeed(dir: string, size: RealmSize, extraRealms: number, format: "json" | "yaml" = "json"): Promise<Seed> {
  const write = async (name: string, document: Record<string, unknown>): Promise<string> => {
    const path = join(dir, `${name}-${size.clients}.${format}`);
    await writeFile(path, format === "json" ? JSON.stringify(document) : stringify(document));
    return path;
  };
  // The small realms first: on FerretDB, importing a realm after a large one is slow (about a
  // second per realm per 10,000 documents already stored), before it costs nothing extra.
  const files: string[] = [];
  for (let i = 1; i <= extraRealms; i++) {
    const name = `other-${String(i).padStart(3, "0")}`;
    files.push(await write(name, realmDocument(name, { clients: 10, users: 10 })));
  }
  files.push(await write(BENCH_REALM, realmDocument(BENCH_REALM, size)));
  const realms = extraRealms + 1;
  const fmt = (n: number) => n.toLocaleString("en-US");
  return { label: `${fmt(size.clients)} clients, ${fmt(size.users)} users, ${realms} realm${realms > 1 ? "s" : ""}`, files, clients: size.clients, users: size.users, realms };
}
