/**
 * Fuzzing the realm-file parser and the two import RPCs: realm files and Keycloak exports with
 * keys deleted, values replaced by any JSON value and unknown keys added, as YAML or JSON, and text
 * that is no document at all. The parser returns a realm or throws a one-line RealmFileError that
 * quotes no client secret; over gRPC every import answers a realm or a status a caller can act on.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { stringify } from "yaml";
import { parse as parseYaml } from "yaml";
import type { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { parseRealmDocument, RealmFileError } from "../../src/realm-file/index.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { fuzzParameters } from "./fuzz-values.js";

const DEMO_REALM = new URL("../../examples/demo-realm.yaml", import.meta.url);
const KEYCLOAK_EXPORT = new URL("../../../shared/fixtures/keycloak/bench-realm-export.json", import.meta.url);
/** Statuses no request, however wrong, may cause: they mean the server failed. */
const SERVER_FAILURES = new Set([Code.Internal, Code.Unknown, Code.DataLoss, Code.Unavailable]);

/** One change to a document: at the `at`-th node (in document order), delete, replace or add a key. */
interface Mutation {
  at: number;
  kind: "delete" | "replace" | "add";
  key: string;
  value: unknown;
}

const mutations = fc.array(
  fc.record({
    at: fc.nat(),
    kind: fc.constantFrom<Mutation["kind"]>("delete", "replace", "replace", "add"),
    key: fc.string({ maxLength: 12 }),
    value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, "", -1, 0, 1e309, "x".repeat(5000), [], {})),
  }),
  { minLength: 1, maxLength: 4 },
);

/** The containers of `root` (objects and arrays), in document order. */
function containersOf(root: unknown): (Record<string, unknown> | unknown[])[] {
  const found: (Record<string, unknown> | unknown[])[] = [];
  const visit = (node: unknown) => {
    if (node === null || typeof node !== "object") return;
    found.push(node as Record<string, unknown>);
    for (const child of Object.values(node)) visit(child);
  };
  visit(root);
  return found;
}

/** A copy of `document` with `changes` applied. */
function mutate(document: unknown, changes: Mutation[]): unknown {
  const copy = structuredClone(document);
  for (const change of changes) {
    const containers = containersOf(copy);
    const target = containers[change.at % containers.length];
    const value = structuredClone(change.value); // a fresh copy: a value inserted twice would make a cycle
    const keys = Object.keys(target);
    const existing = keys.length > 0 ? keys[change.at % keys.length] : undefined;
    if (Array.isArray(target)) {
      const index = existing === undefined ? 0 : Number(existing);
      if (change.kind === "delete") target.splice(index, 1);
      else if (change.kind === "replace") target[index] = value;
      else target.push(value);
    } else if (change.kind === "add" || existing === undefined) {
      target[change.key] = value;
    } else if (change.kind === "delete") {
      delete target[existing];
    } else {
      target[existing] = value;
    }
  }
  return copy;
}

/** A document as the text an operator would send: YAML, JSON, or a text cut short. */
const asText = (document: unknown, format: "yaml" | "json" | "cut"): string => {
  if (format === "json") return JSON.stringify(document);
  const yaml = stringify(document);
  return format === "cut" ? yaml.slice(0, Math.floor(yaml.length / 2)) : yaml;
};

const formats = fc.constantFrom<"yaml" | "json" | "cut">("yaml", "yaml", "json", "cut");

describe("fuzzing realm files and Keycloak exports", () => {
  let harness: TesseraHarness;
  let admin: Client<typeof AdminService>;
  let demo: Record<string, unknown>;
  let keycloak: unknown;
  const secrets: string[] = [];

  before(async () => {
    harness = await startTessera();
    admin = (await harness.adminCaller()).admin("grpc");
    demo = parseYaml(await readFile(DEMO_REALM, "utf8")) as Record<string, unknown>;
    // Distinctive secrets, so that a message quoting one is caught wherever it lands.
    for (const [index, client] of (demo.clients as Record<string, unknown>[]).entries()) {
      if (typeof client.secret !== "string") continue;
      const secret = `fuzz-secret-${index}-${"q".repeat(12)}`;
      client.secret = secret;
      secrets.push(secret);
    }
    keycloak = JSON.parse(await readFile(KEYCLOAK_EXPORT, "utf8"));
  });

  after(async () => {
    await harness?.stop();
  });

  it("the parser returns a realm or a one-line RealmFileError that quotes no secret", async () => {
    const documents = fc.oneof(
      { weight: 5, arbitrary: fc.tuple(mutations, formats).map(([changes, format]) => asText(mutate(demo, changes), format)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
    );
    await fc.assert(
      fc.asyncProperty(documents, async (text) => {
        try {
          await parseRealmDocument(text, "fuzz.yaml");
        } catch (error) {
          assert.ok(error instanceof RealmFileError, `not a RealmFileError: ${String(error)}`);
          assert.ok(!error.message.includes("\n"), `a message of more than one line: ${error.message.slice(0, 200)}`);
          for (const secret of secrets) assert.ok(!error.message.includes(secret), `the message quotes a secret: ${error.message}`);
        }
      }),
      fuzzParameters(600),
    );
  });

  it("ImportRealm answers any realm file with a realm or a status a caller can act on", async () => {
    const cases = fc.record({ changes: mutations, format: formats, dryRun: fc.boolean(), prune: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(cases, async ({ changes, format, dryRun, prune }) => {
        const document = mutate(demo, changes);
        const realm = typeof (document as { realm?: unknown }).realm === "string" ? (document as { realm: string }).realm : "demo";
        try {
          await admin.importRealm({ realm, realmFile: asText(document, format), dryRun, prune });
        } catch (error) {
          assert.ok(error instanceof ConnectError, String(error));
          assert.ok(!SERVER_FAILURES.has(error.code), `${Code[error.code]}: ${error.rawMessage}`);
          for (const secret of secrets) assert.ok(!error.rawMessage.includes(secret), `the status quotes a secret: ${error.rawMessage}`);
        }
      }),
      fuzzParameters(200),
    );
  });

  it("ImportKeycloakRealm answers any export with a report or a status a caller can act on", async () => {
    const cases = fc.record({ changes: mutations, json: fc.boolean(), dryRun: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(cases, async ({ changes, json, dryRun }) => {
        const document = mutate(keycloak, changes);
        const text = json ? JSON.stringify(document) : JSON.stringify(document).slice(0, 2000);
        try {
          await admin.importKeycloakRealm({ realmExport: text, realm: "kc-fuzz", dryRun });
        } catch (error) {
          assert.ok(error instanceof ConnectError, String(error));
          assert.ok(!SERVER_FAILURES.has(error.code), `${Code[error.code]}: ${error.rawMessage}`);
        }
      }),
      fuzzParameters(100),
    );
  });
});
