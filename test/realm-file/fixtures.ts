import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { stringify } from "yaml";
import { parseRealmDocument, RealmFileError } from "../../src/realm-file/index.js";
import type { RealmBundle } from "../../src/storage/realm-repository.js";

/** A realm file as a plain object, to change per test before it is written as YAML. */
export type Doc = Record<string, unknown> & { clients: Record<string, unknown>[] };

/** Client secrets of {@link validDoc}: no error message may contain them. */
export const SECRETS = ["gw-Secret-4f1c9a", "orders-Secret-77d2b0"];

/** A P-256 key pair as JWKs. */
export function ecJwks(): { publicJwk: Record<string, unknown>; privateJwk: Record<string, unknown> } {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    publicJwk: { ...publicKey.export({ format: "jwk" }), kid: "k1" },
    privateJwk: privateKey.export({ format: "jwk" }),
  };
}

/** A small valid realm: two scopes, a confidential gateway, a target API, a public CLI, a user. */
export function validDoc(): Doc {
  return {
    realm: "test",
    scopes: [{ name: "orders.read", audiences: ["orders-api"] }, { name: "profile" }],
    clients: [
      {
        clientId: "gateway",
        secret: SECRETS[0],
        serviceAccount: true,
        defaultScopes: ["profile"],
        optionalScopes: ["orders.read"],
        tokenExchange: { enabled: true },
      },
      { clientId: "orders-api", secret: SECRETS[1], resourceUris: ["https://orders.example.com"] },
      { clientId: "cli", public: true, defaultScopes: ["profile"] },
    ],
    users: [{ username: "alice", email: "alice@example.com" }],
  };
}

/** Parses a document written as YAML (or as JSON when `json`). */
export function parseDoc(doc: unknown, source = "realm.yaml", json = false): Promise<RealmBundle> {
  return parseRealmDocument(json ? JSON.stringify(doc) : stringify(doc), source);
}

/**
 * Asserts that parsing `text` fails with a one-line {@link RealmFileError} that starts with
 * `source: path:`, contains each expected fragment, and quotes no secret. Returns the message.
 */
export async function assertRefused(
  text: string,
  path: string,
  expected: readonly string[],
  source = "realm.yaml",
): Promise<string> {
  let caught: unknown;
  let bundle: RealmBundle | undefined;
  try {
    bundle = await parseRealmDocument(text, source);
  } catch (error) {
    caught = error;
  }
  assert.equal(bundle, undefined, "no bundle is returned");
  assert.ok(caught instanceof RealmFileError, `expected a RealmFileError, got ${String(caught)}`);
  const { message } = caught;
  assert.ok(!message.includes("\n"), `one line: ${message}`);
  const prefix = path === "" ? `${source}: ` : `${source}: ${path}: `;
  assert.ok(message.startsWith(prefix), `${JSON.stringify(message)} starts with ${JSON.stringify(prefix)}`);
  for (const fragment of expected)
    assert.ok(message.includes(fragment), `${JSON.stringify(message)} mentions ${JSON.stringify(fragment)}`);
  for (const secret of SECRETS) assert.ok(!message.includes(secret), `${JSON.stringify(message)} quotes a secret`);
  return message;
}

/** {@link assertRefused} for a document given as an object, written as YAML. */
export function assertDocRefused(doc: unknown, path: string, expected: readonly string[]): Promise<string> {
  return assertRefused(stringify(doc), path, expected);
}
