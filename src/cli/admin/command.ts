import type { Client, Transport } from "@connectrpc/connect";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { readInput } from "../input.js";
import { messageJson } from "../message-json.js";
import { AdminCliError, EXIT, renderObject, renderRows, type Cell, type OutputFormat } from "../output.js";

/** A flag of one command: `node:util` parseArgs type, and the help line's placeholder and text. */
export interface Flag {
  type: "string" | "boolean";
  multiple?: boolean;
  placeholder?: string;
  help: string;
}

/** The values parsed from a command line. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** What one command needs to run. */
export interface Context {
  admin: Client<typeof AdminService>;
  /** The admin-authenticated transport, for the TokenExchangeService calls an admin may make (explain). */
  transport: Transport;
  flags: FlagValues;
  output: OutputFormat;
  print: (text: string) => void;
}

/** One `tessera admin` command: `words` (`users create`), its arguments, flags and what it does. */
export interface Command {
  words: string;
  arguments: string[];
  summary: string;
  flags?: Record<string, Flag>;
  run(args: string[], context: Context): Promise<void>;
}

/** A command-line mistake: exit 2 and a pointer to the help. */
export const usageError = (message: string, help = "tessera admin --help") => new AdminCliError(EXIT.usage, `${message} (see ${help})`);

/** A file the user named (`-`: standard input), or exit 2 saying why it cannot be read. */
export async function readUserFile(path: string, what = path): Promise<string> {
  try {
    return await readInput(path);
  } catch (error) {
    throw usageError(`cannot read ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** A string flag's value, or `undefined`. */
export const text = (flags: FlagValues, name: string): string | undefined => {
  const value = flags[name];
  return typeof value === "string" ? value : undefined;
};

/** A repeatable flag's values (empty when not given). */
export const list = (flags: FlagValues, name: string): string[] => {
  const value = flags[name];
  return Array.isArray(value) ? value : [];
};

/** A `true|false` flag: `undefined` when not given. */
export function yesNo(flags: FlagValues, name: string): boolean | undefined {
  const value = text(flags, name);
  if (value === undefined) return undefined;
  if (value === "true" || value === "false") return value === "true";
  throw usageError(`--${name}: expected true or false`);
}

/** A whole-number flag (seconds, depths): `undefined` when not given. */
export function wholeNumber(flags: FlagValues, name: string): number | undefined {
  const value = text(flags, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw usageError(`--${name}: expected a whole number`);
  return Number(value);
}

/** `--attribute name=value` flags as a map of values per name. */
export function attributes(flags: FlagValues, name = "attribute"): Record<string, { values: string[] }> {
  const out: Record<string, { values: string[] }> = {};
  for (const pair of list(flags, name)) {
    const at = pair.indexOf("=");
    if (at <= 0) throw usageError(`--${name}: expected NAME=VALUE, got ${JSON.stringify(pair)}`);
    (out[pair.slice(0, at)] ??= { values: [] }).values.push(pair.slice(at + 1));
  }
  return out;
}

/** The update mask of an update command: the proto field names whose flags were given. */
export function givenFields(flags: FlagValues, fieldOfFlag: Record<string, string>): string[] {
  const paths = Object.entries(fieldOfFlag)
    .filter(([flag]) => flags[flag] !== undefined && !(Array.isArray(flags[flag]) && flags[flag].length === 0))
    .map(([, path]) => path);
  if (paths.length === 0) throw usageError(`nothing to change: give one of ${Object.keys(fieldOfFlag).map((f) => `--${f}`).join(", ")}`);
  return paths;
}

/** Every page of a list call, `pageToken` to `nextPageToken`. */
export async function allPages<T>(fetchPage: (pageToken: string) => Promise<{ items: T[]; nextPageToken: string }>): Promise<T[]> {
  const items: T[] = [];
  let pageToken = "";
  do {
    const page = await fetchPage(pageToken);
    items.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return items;
}

/** Messages as typed JSON (every field), or as a table of `columns` (JSON field names). */
export function printMessages<Desc extends DescMessage>(context: Context, schema: Desc, messages: MessageShape<Desc>[], columns: string[]): void {
  context.print(renderRows(messages.map((m) => messageJson(schema, m)), columns, context.output));
}

/** One message as typed JSON or as `field: value` lines; `extra` fields added (a secret shown once). */
export function printMessage<Desc extends DescMessage>(context: Context, schema: Desc, message: MessageShape<Desc> | undefined, extra: Record<string, Cell> = {}): void {
  if (!message) throw new AdminCliError(EXIT.failure, "the server answered without the object");
  context.print(renderObject({ ...messageJson(schema, message), ...extra }, context.output));
}

/** A one-line confirmation of a deletion or an ending. */
export function printDone(context: Context, row: Record<string, Cell>): void {
  context.print(renderObject(row, context.output));
}
