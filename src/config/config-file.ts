import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseDocument } from "yaml";
import { SERVE_OPTIONS, type OptionKey } from "./options.js";

/** A value of the config file: a scalar as text, or a list of texts for list settings. */
export type FileValue = string | string[];

/** The settings of a config file, by key, with paths already resolved against the file's folder. */
export interface ConfigFile {
  /** The path as given (messages name it). */
  path: string;
  values: Map<OptionKey, FileValue>;
}

/** A config file that cannot be read or holds something other than known keys with fitting values. */
export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError";
}

const BY_KEY = new Map(SERVE_OPTIONS.map((option) => [option.key as string, option]));

/**
 * Reads a `tessera serve` config file: a YAML mapping of the keys of {@link SERVE_OPTIONS}. Unknown
 * keys, nested mappings and lists where a single value belongs are refused with one line naming
 * the file and the key; values are never echoed (the file may hold secrets).
 */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigFileError(`${path}: cannot read the config file (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) {
    const [first] = document.errors;
    const line = first.linePos?.[0].line;
    throw new ConfigFileError(`${path}${line ? `:${line}` : ""}: not valid YAML (${first.code})`);
  }
  const content: unknown = document.toJS();
  if (content === null || content === undefined) return { path, values: new Map() };
  if (typeof content !== "object" || Array.isArray(content)) {
    throw new ConfigFileError(`${path}: expected a mapping of settings (see tessera serve --help)`);
  }
  const values = new Map<OptionKey, FileValue>();
  for (const [key, raw] of Object.entries(content)) {
    const option = BY_KEY.get(key);
    if (option === undefined) throw new ConfigFileError(`${path}: ${key}: unknown key (see tessera serve --help)`);
    if (raw === null || raw === undefined) continue;
    const value = fileValue(raw, option.kind === "list", `${path}: ${key}`);
    const relativeTo = "path" in option && option.path ? dirname(path) : undefined;
    const resolved = (entry: string) => (relativeTo === undefined || entry === "" ? entry : resolve(relativeTo, entry));
    values.set(option.key, Array.isArray(value) ? value.map(resolved) : resolved(value));
  }
  return { path, values };
}

function fileValue(raw: unknown, list: boolean, name: string): FileValue {
  const scalar = (item: unknown): string => {
    if (typeof item === "string" || typeof item === "number" || typeof item === "boolean") return String(item);
    throw new ConfigFileError(`${name}: expected ${list ? "a list of values" : "a single value"}`);
  };
  if (!list) return scalar(raw);
  return Array.isArray(raw) ? raw.map(scalar) : [scalar(raw)];
}
