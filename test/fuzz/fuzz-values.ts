/**
 * Value generators shared by the fuzz tests: strings biased towards the values Tessera acts on
 * (real client ids, secrets, tokens, token type URIs), and any protobuf-es message built from its
 * descriptor, so every RPC's request is fuzzed without a hand-written generator per message.
 */
import fc from "fast-check";
import { create, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

/**
 * fast-check parameters of a property: `ciRuns` cases, which keeps `npm test` to seconds per
 * property, with a fixed seed so that CI runs the same cases every time; `FUZZ_SCALE` (`npm run
 * fuzz` sets 20) multiplies the cases and draws a new seed each run, and `FUZZ_SEED` replays one.
 */
export function fuzzParameters(ciRuns: number): { numRuns: number; seed?: number } {
  const scale = Number(process.env.FUZZ_SCALE);
  const seed = Number(process.env.FUZZ_SEED);
  const scaled = Number.isFinite(scale) && scale > 0;
  return {
    numRuns: scaled ? Math.ceil(ciRuns * scale) : ciRuns,
    ...(Number.isInteger(seed) ? { seed } : scaled ? {} : { seed: 20261204 }),
  };
}

/** The token type URIs of RFC 8693 §3 and a few near misses. */
export const TOKEN_TYPES = [
  "urn:ietf:params:oauth:token-type:access_token",
  "urn:ietf:params:oauth:token-type:refresh_token",
  "urn:ietf:params:oauth:token-type:id_token",
  "urn:ietf:params:oauth:token-type:jwt",
  "urn:ietf:params:oauth:token-type:saml2",
  "urn:ietf:params:oauth:token-type:",
];

/** Grant types Tessera knows and some it does not. */
export const GRANT_TYPES = [
  "urn:ietf:params:oauth:grant-type:token-exchange",
  "client_credentials",
  "refresh_token",
  "password",
  "authorization_code",
  "urn:ietf:params:oauth:grant-type:jwt-bearer",
];

/** Strings that break naive parsers: empty, control bytes, bad escapes, traversal, very long. */
const HOSTILE = ["", " ", "\u0000", "%", "%zz", "%00", "..", "../..", "a b", "\ud800", "null", "[]", "{}", "=", "&", "Bearer", "Basic", "eyJ", "a.b.c", "x".repeat(10_000)];

/**
 * Any string, mostly drawn from `known` (values that pass the early checks and so reach deeper
 * rules) and the hostile set, otherwise arbitrary text or random characters.
 */
export function fuzzString(known: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known, ...HOSTILE) },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
    { weight: 1, arbitrary: jwtLike() },
  );
}

/** Three base64url-ish segments: a JWT in shape, with headers and claims of any kind. */
function jwtLike(): fc.Arbitrary<string> {
  const segment = fc.oneof(
    fc.json({ maxDepth: 2 }).map((json) => Buffer.from(json).toString("base64url")),
    fc.base64String({ maxLength: 40 }),
  );
  return fc.tuple(segment, segment, segment).map((parts) => parts.join("."));
}

/**
 * Any message of `desc`: every field absent or set to a value of its type (strings from
 * `strings`), lists and maps of up to three entries, one case of each oneof, nested messages to
 * `depth` levels.
 */
export function messageOf<Desc extends DescMessage>(desc: Desc, strings: fc.Arbitrary<string>, depth = 3): fc.Arbitrary<MessageShape<Desc>> {
  return initOf(desc, strings, depth).map((init) => create(desc, init as never));
}

function initOf(desc: DescMessage, strings: fc.Arbitrary<string>, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of desc.fields) {
    if (field.oneof) continue;
    parts[field.localName] = fieldValue(field, strings, depth);
  }
  for (const oneof of desc.oneofs) {
    parts[oneof.localName] = fc.oneof(
      fc.constant(undefined),
      ...oneof.fields.map((field) => fieldValue(field, strings, depth).map((value) => ({ case: field.localName, value }))),
    );
  }
  return fc.record(parts, { requiredKeys: [] });
}

function fieldValue(field: DescField, strings: fc.Arbitrary<string>, depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "scalar":
      return scalarOf(field.scalar, strings);
    case "enum":
      return fc.oneof(fc.constantFrom(...field.enum.values.map((value) => value.number)), fc.integer({ min: -5, max: 100 }));
    case "message":
      return depth > 0 ? initOf(field.message, strings, depth - 1) : fc.constant(undefined);
    case "list": {
      const element =
        field.listKind === "scalar" ? scalarOf(field.scalar, strings)
        : field.listKind === "enum" ? fc.integer({ min: 0, max: 10 })
        : depth > 0 ? initOf(field.message, strings, depth - 1).map((init) => create(field.message, init as never))
        : undefined;
      return element ? fc.array(element, { maxLength: 3 }) : fc.constant([]);
    }
    case "map": {
      const value =
        field.mapKind === "scalar" ? scalarOf(field.scalar, strings)
        : field.mapKind === "enum" ? fc.integer({ min: 0, max: 10 })
        : depth > 0 ? initOf(field.message, strings, depth - 1).map((init) => create(field.message, init as never))
        : undefined;
      return value ? fc.dictionary(strings, value, { maxKeys: 3 }) : fc.constant({});
    }
  }
}

function scalarOf(scalar: ScalarType, strings: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  switch (scalar) {
    case ScalarType.STRING:
      return strings;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double();
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    default:
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  }
}
