import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { ACTIVITY_COMMANDS } from "./admin/activity.js";
import { CLIENT_COMMANDS } from "./admin/clients.js";
import { usageError, type Command, type Flag, type FlagValues } from "./admin/command.js";
import { EXPLAIN_COMMANDS } from "./admin/explain.js";
import { PROVIDER_COMMANDS } from "./admin/identity-providers.js";
import { KEY_COMMANDS } from "./admin/keys.js";
import { login } from "./admin/login.js";
import { REALM_FILE_COMMANDS } from "./admin/realm-files.js";
import { REALM_COMMANDS } from "./admin/realms.js";
import { SCOPE_COMMANDS } from "./admin/scopes.js";
import { USER_COMMANDS } from "./admin/users.js";
import { describeFailure, EXIT } from "./output.js";

/** Every `tessera admin` command, by resource. */
export const ADMIN_COMMANDS: Command[] = [
  ...REALM_COMMANDS,
  ...REALM_FILE_COMMANDS,
  ...CLIENT_COMMANDS,
  ...SCOPE_COMMANDS,
  ...USER_COMMANDS,
  ...PROVIDER_COMMANDS,
  ...ACTIVITY_COMMANDS,
  ...KEY_COMMANDS,
  ...EXPLAIN_COMMANDS,
];

/** The options every admin command takes: where the server is, how to log in, how to print. */
const GLOBAL_FLAGS: Record<string, Flag> = {
  url: { type: "string", placeholder: "URL", help: "Tessera's base URL (TESSERA_URL; default http://127.0.0.1:8080)" },
  "client-id": { type: "string", placeholder: "ID", help: "admin client of the master realm (TESSERA_ADMIN_CLIENT_ID; default admin)" },
  "client-secret": { type: "string", placeholder: "S", help: "its secret (TESSERA_ADMIN_CLIENT_SECRET; prefer the variable: arguments are visible to others)" },
  output: { type: "string", placeholder: "table|json", help: "how results are printed (default table; json keeps numbers and booleans typed)" },
  help: { type: "boolean", help: "print this help (also -h)" },
};

const EXIT_CODES = `Exit codes: 0 ok, 1 server failure, 2 usage, 3 not authenticated or not allowed, 4 not found,
5 already exists or changed meanwhile, 6 invalid request, 7 server unreachable or unavailable.
`;

const flagLines = (flags: Record<string, Flag>) =>
  Object.entries(flags).map(([name, flag]) => `  ${`--${name}${flag.placeholder ? ` ${flag.placeholder}` : ""}`.padEnd(34)} ${flag.help}`.trimEnd());

/** The help of `tessera admin`. */
export const ADMIN_USAGE = [
  "Usage: tessera admin [options] <resource> <action> [arguments]",
  "",
  "Calls Tessera's AdminService, logged in with client credentials of an admin client of the master realm.",
  "`tessera admin <resource> <action> --help` lists a command's flags.",
  "",
  "Commands:",
  ...ADMIN_COMMANDS.map((c) => `  ${`${c.words} ${c.arguments.join(" ")}`.padEnd(44)} ${c.summary}`),
  "",
  "Options:",
  ...flagLines(GLOBAL_FLAGS),
  "",
  EXIT_CODES,
].join("\n");

/** The help of one command: its arguments, its flags, then the options every command takes. */
export function commandUsage(command: Command, name = `tessera admin ${command.words}`): string {
  const flags = command.flags ?? {};
  return [
    `Usage: ${name} ${command.arguments.join(" ")}${Object.keys(flags).length > 0 ? " [flags]" : ""}`.trimEnd(),
    "",
    `${command.summary[0].toUpperCase()}${command.summary.slice(1)}.`,
    ...(Object.keys(flags).length > 0 ? ["", "Flags:", ...flagLines(flags)] : []),
    "",
    "Options:",
    ...flagLines(GLOBAL_FLAGS),
    "",
    EXIT_CODES,
  ].join("\n");
}

/** Where the CLI writes; tests and `tessera.ts` give process streams. */
export interface AdminCliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** The command that `words` (the first two positionals) name, looked up before the flags are parsed. */
function findCommand(argv: string[]): Command | undefined {
  const takesValue = (arg: string) => arg.startsWith("--") && !arg.includes("=") && GLOBAL_FLAGS[arg.slice(2)]?.type === "string";
  const words = argv.filter((arg, i) => !arg.startsWith("-") && !(i > 0 && takesValue(argv[i - 1]))).slice(0, 2).join(" ");
  return ADMIN_COMMANDS.find((c) => c.words === words);
}

/** Parses a command line with the global flags and `command`'s own; unknown flags are a usage error. */
function parseCommandLine(argv: string[], flags: Record<string, Flag>, help: string) {
  const options = Object.fromEntries(Object.entries({ ...GLOBAL_FLAGS, ...flags }).map(([name, f]) => [name, { type: f.type, multiple: f.multiple === true }]));
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    return { flags: parsed.values as FlagValues, positionals: parsed.positionals };
  } catch (error) {
    throw usageError((error as Error).message.split("\n")[0].replace(/\. To specify a positional.*$/, ""), help);
  }
}

/**
 * Runs one admin command line (`[group action] args... flags...`) and returns the exit code (see {@link EXIT}).
 * `prefix` names the command in messages; `fixed` is a command run without its words (`tessera import-keycloak`).
 */
export async function runAdmin(argv: string[], io: AdminCliIo, fixed?: { command: Command; prefix: string }): Promise<number> {
  const prefix = fixed?.prefix ?? "tessera admin";
  try {
    const command = fixed?.command ?? findCommand(argv);
    const helpPointer = command ? `${prefix}${fixed ? "" : ` ${command.words}`} --help` : `${prefix} --help`;
    const { flags, positionals } = parseCommandLine(argv, command?.flags ?? {}, helpPointer);
    const usageText = command ? commandUsage(command, fixed?.prefix) : ADMIN_USAGE;
    if (flags.help || positionals.length === 0) {
      io.stdout(usageText);
      return flags.help ? EXIT.ok : EXIT.usage;
    }
    if (!command) throw usageError(`unknown command ${JSON.stringify(positionals.slice(0, 2).join(" "))}`, helpPointer);
    const output = flags.output ?? "table";
    if (output !== "json" && output !== "table") throw usageError("--output: expected json or table", helpPointer);
    const args = fixed ? positionals : positionals.slice(2);
    if (args.length !== command.arguments.length) throw usageError(`${command.words}: expected ${command.arguments.join(" ") || "no arguments"}`, helpPointer);
    const transport = await login(flags, io.env);
    await command.run(args, { admin: createClient(AdminService, transport), transport, flags, output, print: io.stdout });
    return EXIT.ok;
  } catch (error) {
    const failure = describeFailure(error);
    io.stderr(`${prefix}: ${failure.message}\n${failure.details.map((d) => `  ${d}\n`).join("")}`);
    return failure.exitCode;
  }
}
