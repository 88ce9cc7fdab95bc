import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import type { RealmBundle } from "../storage/realm-repository.js";
import { toRealmBundle, type ConversionOptions } from "./convert.js";
import { fromZodIssues, type ValidationIssue } from "./issues.js";
import { RealmFileError } from "./realm-file-error.js";
import { realmFileSchema, type RealmFile } from "./schema.js";
import { validateRealmBundle } from "./validate-realm.js";

/**
 * Reads and parses a realm file (YAML or JSON, told apart by content: JSON is YAML).
 * Throws {@link RealmFileError} if the file cannot be read or is not a valid realm;
 * see {@link parseRealmDocument}.
 */
export async function parseRealmFile(path: string, options: ConversionOptions = {}): Promise<RealmBundle> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new RealmFileError(path, [{ path: [], message: `cannot read the file: ${(error as Error).message}` }]);
  }
  return parseRealmDocument(text, path, options);
}

/**
 * Parses the text of a realm file into the domain objects of one realm, all or nothing: it returns
 * a complete, valid {@link RealmBundle} (secrets hashed) or throws a {@link RealmFileError} whose
 * message names `source`, the path of the key and what was expected.
 */
export async function parseRealmDocument(text: string, source: string, options: ConversionOptions = {}): Promise<RealmBundle> {
  const { bundle } = await readRealmDocument(text, source, options);
  const issues = validateRealmBundle(bundle);
  if (issues.length > 0) throw new RealmFileError(source, issues);
  return bundle;
}

/**
 * The first half of {@link parseRealmDocument}: the file as parsed (shape and types checked) and its
 * domain objects, before the rules across objects are checked (`validateRealmBundle`). For an
 * importer that completes the bundle first (secrets kept from storage) and then validates it.
 */
export async function readRealmDocument(text: string, source: string, options: ConversionOptions = {}): Promise<{ file: RealmFile; bundle: RealmBundle }> {
  const parsed = realmFileSchema.safeParse(parseYaml(text, source));
  if (!parsed.success) throw new RealmFileError(source, fromZodIssues(parsed.error.issues));
  const unsealable = (parsed.data.identityProviders ?? []).findIndex((p) => p.introspection?.clientSecret !== undefined);
  if (unsealable >= 0 && !options.seal) {
    const issue = { path: ["identityProviders", unsealable, "introspection", "clientSecret"], message: "needs a master key to be encrypted" };
    throw new RealmFileError(source, [issue]);
  }
  return { file: parsed.data, bundle: await toRealmBundle(parsed.data, options) };
}

/** YAML 1.2 (so JSON too) to plain values. Messages carry line and column, never the source text. */
function parseYaml(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const error = document.errors[0];
  if (error !== undefined) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    throw new RealmFileError(source, [firstLine(`YAML syntax error at line ${line}, column ${col}: ${error.message}`)]);
  }
  try {
    return document.toJS();
  } catch (cause) {
    // toJS refuses excessive alias expansion ("billion laughs").
    throw new RealmFileError(source, [firstLine(`YAML error: ${(cause as Error).message}`)]);
  }
}

function firstLine(message: string): ValidationIssue {
  return { path: [], message: message.split("\n")[0] };
}
