#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { runServe } from "../server/serve.js";
import { ADMIN_COMMANDS, runAdmin, type AdminCliIo } from "./admin-cli.js";
import { runTokenDecode } from "./token-decode.js";

const USAGE = `Usage: tessera <command> [arguments]

Commands:
  serve             run the token exchange service (tessera serve --help)
  admin             call the AdminService: realms, clients, scopes, users, providers, sessions, events, keys,
                    realm files (tessera admin --help)
  import-keycloak   import a Keycloak realm export (tessera import-keycloak --help)
  token decode      print a JWT's header, claims and expiry, verified against its realm (tessera token --help)

Options:
  -h, --help        print this help
  --version         print the version
`;

/** The version in the package.json next to the installed code (src/ or dist/src/). */
function version(): string {
  for (const path of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "tessera" && pkg.version) return pkg.version;
    } catch {
      // not this level: the next one up
    }
  }
  return "unknown";
}

const IMPORT_KEYCLOAK = ADMIN_COMMANDS.find((c) => c.words === "realm import-keycloak");

/** `tessera <command>`: the package's bin. */
async function cli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io: AdminCliIo = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text), env: process.env };
  switch (command) {
    case "serve":
      return runServe(rest, process.env);
    case "admin":
      return runAdmin(rest, io);
    case "import-keycloak":
      return runAdmin(rest, io, IMPORT_KEYCLOAK && { command: IMPORT_KEYCLOAK, prefix: "tessera import-keycloak" });
    case "token":
      return runTokenDecode(rest, io.stdout, io.stderr);
    case "--version":
      io.stdout(`tessera ${version()}\n`);
      return 0;
    case "-h":
    case "--help":
    case "help":
      io.stdout(USAGE);
      return 0;
    case undefined:
      io.stderr(USAGE);
      return 2;
    default:
      io.stderr(`tessera: unknown command ${JSON.stringify(command)} (see tessera --help)\n`);
      return 2;
  }
}

cli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tessera: unexpected failure: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
