import { toJson, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Cell } from "./output.js";

const INT64_TYPES = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);

/** An int64 that protobuf JSON writes as a string, as a number when it is one exactly. */
function typedScalar(scalar: ScalarType, value: Cell): Cell {
  if (!INT64_TYPES.has(scalar) || typeof value !== "string") return value;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : value;
}

/** Well-known types (Timestamp, Duration, ...) keep their JSON form. */
const isWellKnown = (desc: DescMessage) => desc.typeName.startsWith("google.protobuf.");

function typedField(field: DescField, value: Cell): Cell {
  if (value === null || value === undefined) return value;
  switch (field.fieldKind) {
    case "scalar":
      return typedScalar(field.scalar, value);
    case "message":
      return isWellKnown(field.message) ? value : typedObject(field.message, value as Record<string, Cell>);
    case "list":
      if (field.listKind === "scalar") return (value as Cell[]).map((v) => typedScalar(field.scalar, v));
      if (field.listKind === "message" && !isWellKnown(field.message)) return (value as Record<string, Cell>[]).map((v) => typedObject(field.message, v));
      return value;
    case "map": {
      const entries = Object.entries(value as Record<string, Cell>);
      if (field.mapKind === "scalar") return Object.fromEntries(entries.map(([k, v]) => [k, typedScalar(field.scalar, v)]));
      if (field.mapKind === "message" && !isWellKnown(field.message)) return Object.fromEntries(entries.map(([k, v]) => [k, typedObject(field.message, v as Record<string, Cell>)]));
      return value;
    }
    default:
      return value;
  }
}

function typedObject(desc: DescMessage, json: Record<string, Cell>): Record<string, Cell> {
  const out: Record<string, Cell> = { ...json };
  for (const field of desc.fields) {
    if (field.jsonName in out) out[field.jsonName] = typedField(field, out[field.jsonName]);
  }
  return out;
}

/**
 * A message as protobuf JSON (every field, defaults included) with 64-bit integers as JSON numbers where
 * they are exact: `toJson` writes int64 as strings, which scripts reading `--output json` should not meet.
 */
export function messageJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Record<string, Cell> {
  return typedObject(schema, toJson(schema, message, { alwaysEmitImplicit: true }) as Record<string, Cell>);
}
