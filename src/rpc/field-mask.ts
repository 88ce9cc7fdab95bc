import { clone, create, isFieldSet, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { FieldMask } from "@bufbuild/protobuf/wkt";

/** A mask path that names no field, or one that cannot be changed. */
export class FieldMaskError extends Error {
  override readonly name = "FieldMaskError";
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`update_mask: ${JSON.stringify(path)} ${reason}`);
  }
}

type Fields = Record<string, unknown>;

/**
 * An update of `current` by `update` under `mask` (AIP-134): the paths of the mask; without a mask
 * (or an empty one), the top-level fields `update` sets (a non-default value, or present for
 * `optional` fields) other than the output-only ones. See {@link applyFieldMask}.
 */
export function mergeUpdate<D extends DescMessage>(
  schema: D,
  current: MessageShape<D>,
  update: MessageShape<D>,
  mask: FieldMask | undefined,
  outputOnly: readonly string[] = [],
): MessageShape<D> {
  const paths =
    mask && mask.paths.length > 0
      ? mask.paths
      : schema.fields.filter((field) => isFieldSet(update, field) && !outputOnly.includes(field.name)).map((field) => field.name);
  return applyFieldMask(schema, current, update, paths, outputOnly);
}

/**
 * `current` with the fields named by `paths` (proto names, dotted into nested messages:
 * `token_exchange.scope_policy`) taken from `update`; every other field keeps its current value. A
 * named field that `update` leaves unset is cleared. `*` replaces everything. Paths in `outputOnly`
 * (or under them) and unknown paths throw {@link FieldMaskError}.
 */
export function applyFieldMask<D extends DescMessage>(
  schema: D,
  current: MessageShape<D>,
  update: MessageShape<D>,
  paths: readonly string[],
  outputOnly: readonly string[] = [],
): MessageShape<D> {
  for (const path of paths) {
    if (outputOnly.some((field) => path === field || path.startsWith(`${field}.`))) throw new FieldMaskError(path, "is output only");
  }
  if (paths.includes("*")) return clone(schema, update);
  const merged = clone(schema, current);
  for (const path of paths) applyPath(schema, update as Fields, merged as Fields, path.split("."), path);
  return merged;
}

function applyPath(schema: DescMessage, from: Fields | undefined, to: Fields, segments: string[], path: string): void {
  const [name, ...rest] = segments;
  const field = schema.fields.find((f) => f.name === name);
  if (!field) throw new FieldMaskError(path, `names no field of ${schema.typeName}`);
  if (rest.length === 0) {
    to[field.localName] = copyOf(schema, field, from);
    return;
  }
  if (field.fieldKind !== "message") throw new FieldMaskError(path, `goes into ${name}, which is not a message`);
  const child = (to[field.localName] ??= create(field.message)) as Fields;
  applyPath(field.message, from?.[field.localName] as Fields | undefined, child, rest, path);
}

/** The value of `field` in `from` (a deep copy), or the field's default when `from` is absent. */
function copyOf(schema: DescMessage, field: DescField, from: Fields | undefined): unknown {
  const source = from ?? (create(schema) as Fields);
  const value = source[field.localName];
  return value === undefined ? undefined : structuredClone(value);
}
