#!/usr/bin/env node
import { runServe } from "../server/serve.js";
import { runAdmin } from "./admin-cli.js";

const USAGE = `Usage: tessera <command>

Commands:
  serve     run the token exchange service (tessera serve --help)
  admin     call the AdminService: realms, clients, keys, realm export and import (tessera admin --help)
`;

/** `tessera <command>`: the package's bin. */
async function cli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "serve") return runServe(rest, process.env);
  if (command === "admin") {
    return runAdmin(rest, { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text), env: process.env });
  }
  if (command === undefined || command === "--help" || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  process.stderr.write(`tessera: unknown command ${JSON.stringify(command)}\n${USAGE}`);
  return 2;
}

cli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tessera: unexpected failure: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
