import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { parse as parseYaml } from "yaml";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import type { SigningKey } from "../../gen/tessera/admin/v1/signing_key_pb.js";
import { AdminCliError, EXIT, describeFailure, renderRows, type OutputFormat } from "./output.js";
import { basicAuthorization } from "../domain/index.js";

/** The help of `tessera admin`. */
export const ADMIN_USAGE = `Usage: tessera admin [options] <command> [arguments]

Calls Tessera's AdminService, logged in with client credentials of an admin client of the master realm.

Commands:
  realms list [--prefix P]                      realms the token may read
  realms create NAME                            create an empty realm (needs the admin scope)
  realms delete NAME                            delete a realm and everything in it
  realm export REALM [--format yaml|json]       the realm file on standard output (no secrets, no keys)
  realm import FILE [--dry-run] [--prune]       create or update the file's realm, all or nothing
  clients list REALM [--prefix P]
  clients create REALM CLIENT_ID [--public] [--service-account] [--default-scope S]... [--optional-scope S]...
                                                a confidential client gets a generated secret, printed once
  clients rotate-secret REALM CLIENT_ID         a new secret, printed once
  users list REALM [--prefix P]
  keys list REALM
  keys rotate REALM [--algorithm ES256|RS256|PS256|EdDSA]

Options:
  --url URL            Tessera's base URL (TESSERA_URL; default http://127.0.0.1:8080)
  --client-id ID       admin client (TESSERA_ADMIN_CLIENT_ID; default admin)
  --client-secret S    its secret (TESSERA_ADMIN_CLIENT_SECRET; prefer the variable: arguments are visible to others)
  --output json|table  how results are printed (default table)
  --help               print this help

Exit codes: 0 ok, 1 server failure, 2 usage, 3 not authenticated or not allowed, 4 not found,
5 already exists or changed meanwhile, 6 invalid request, 7 server unreachable or unavailable.
`;

const OPTIONS = {
  url: { type: "string" },
  "client-id": { type: "string" },
  "client-secret": { type: "string" },
  output: { type: "string" },
  format: { type: "string" },
  prefix: { type: "string" },
  algorithm: { type: "string" },
  "dry-run": { type: "boolean" },
  prune: { type: "boolean" },
  public: { type: "boolean" },
  "service-account": { type: "boolean" },
  "default-scope": { type: "string", multiple: true },
  "optional-scope": { type: "string", multiple: true },
  help: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>["values"];

/** Where the CLI writes; tests and `cli.ts` give process streams. */
export interface AdminCliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** What one command needs. */
interface Context {
  admin: Client<typeof AdminService>;
  values: Values;
  output: OutputFormat;
  print: (text: string) => void;
}

const usage = (message: string) => new AdminCliError(EXIT.usage, `${message} (see tessera admin --help)`);
const time = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : "");

/** `tessera admin ...`: runs one command and returns the exit code (see {@link EXIT}). */
export async function runAdmin(argv: string[], io: AdminCliIo): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw usage((error as Error).message.split("\n")[0]);
    }
    const { values, positionals } = parsed;
    if (values.help || positionals.length === 0) {
      io.stdout(ADMIN_USAGE);
      return values.help ? EXIT.ok : EXIT.usage;
    }
    const output = values.output ?? "table";
    if (output !== "json" && output !== "table") throw usage("--output: expected json or table");
    const [group, action, ...args] = positionals;
    const command = COMMANDS[`${group} ${action ?? ""}`];
    if (!command) throw usage(`unknown command ${JSON.stringify(positionals.slice(0, 2).join(" "))}`);
    if (args.length !== command.arguments.length) throw usage(`${group} ${action}: expected ${command.arguments.join(" ") || "no arguments"}`);
    const admin = await login(values, io.env);
    await command.run(args, { admin, values, output, print: io.stdout });
    return EXIT.ok;
  } catch (error) {
    const failure = describeFailure(error);
    io.stderr(`tessera admin: ${failure.message}\n${failure.details.map((d) => `  ${d}\n`).join("")}`);
    return failure.exitCode;
  }
}

/** Client credentials at the master realm's token endpoint, then an AdminService client sending the token. */
async function login(values: Values, env: NodeJS.ProcessEnv): Promise<Client<typeof AdminService>> {
  const baseUrl = (values.url ?? env.TESSERA_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
  const clientId = values["client-id"] ?? env.TESSERA_ADMIN_CLIENT_ID ?? "admin";
  const secret = values["client-secret"] ?? env.TESSERA_ADMIN_CLIENT_SECRET;
  if (!secret) throw usage("expected the admin client's secret in TESSERA_ADMIN_CLIENT_SECRET (or --client-secret)");
  if (!URL.canParse(baseUrl)) throw usage("--url: expected an absolute URL");
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/realms/master/protocol/openid-connect/token`, {
      method: "POST",
      headers: {
        authorization: basicAuthorization(clientId, secret),
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
  } catch (error) {
    throw new AdminCliError(EXIT.unavailable, `unavailable: cannot reach ${baseUrl}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`);
  }
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
  if (response.status === 401 || response.status === 400) {
    throw new AdminCliError(EXIT.denied, `login failed: ${body.error ?? response.status}${body.error_description ? `: ${body.error_description}` : ""}`);
  }
  if (response.status === 404) throw new AdminCliError(EXIT.denied, "login failed: the master realm does not exist at this server");
  if (!response.ok || !body.access_token) throw new AdminCliError(response.status === 503 ? EXIT.unavailable : EXIT.failure, `login failed: HTTP ${response.status}`);
  const token = body.access_token;
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(AdminService, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer] }));
}

/** One command: its positional arguments and what it does. */
interface Command {
  arguments: string[];
  run(args: string[], context: Context): Promise<void>;
}

const keyRow = (k: SigningKey) => ({ kid: k.kid, algorithm: k.algorithm, state: k.state, created: time(k.createdAt), retires: time(k.retireAt), origin: k.origin });

const COMMANDS: Record<string, Command> = {
  "realms list": {
    arguments: [],
    async run(_args, { admin, values, output, print }) {
      const rows: Record<string, string>[] = [];
      let pageToken = "";
      do {
        const page = await admin.listRealms({ namePrefix: values.prefix ?? "", pageSize: 1000, pageToken });
        rows.push(...page.realms.map((r) => ({ name: r.name, enabled: String(r.enabled ?? true), algorithm: r.signingAlgorithm, accessTokenLifespan: String(r.accessTokenLifespan) })));
        pageToken = page.nextPageToken;
      } while (pageToken);
      print(renderRows(rows, ["name", "enabled", "algorithm", "accessTokenLifespan"], output));
    },
  },
  "realms create": {
    arguments: ["NAME"],
    async run([name], { admin, output, print }) {
      const { realm } = await admin.createRealm({ realm: { name } });
      print(renderRows([{ name: realm?.name ?? name, enabled: String(realm?.enabled ?? true), algorithm: realm?.signingAlgorithm ?? "" }], ["name", "enabled", "algorithm"], output));
    },
  },
  "realms delete": {
    arguments: ["NAME"],
    async run([name], { admin, output, print }) {
      await admin.deleteRealm({ name });
      print(renderRows([{ name, deleted: "true" }], ["name", "deleted"], output));
    },
  },
  "realm export": {
    arguments: ["REALM"],
    async run([realm], { admin, values, print }) {
      const format = values.format ?? "yaml";
      if (format !== "yaml" && format !== "json") throw usage("--format: expected yaml or json");
      print((await admin.exportRealm({ realm, format })).realmFile);
    },
  },
  "realm import": {
    arguments: ["FILE"],
    async run([path], { admin, values, output, print }) {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (error) {
        throw usage(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      let realm: unknown;
      try {
        realm = (parseYaml(text) as { realm?: unknown } | null)?.realm;
      } catch {
        realm = undefined;
      }
      if (typeof realm !== "string") throw new AdminCliError(EXIT.invalid, `${path}: expected a realm file with a realm key`);
      const answer = await admin.importRealm({ realm, realmFile: text, dryRun: values["dry-run"] ?? false, prune: values.prune ?? false });
      const rows = answer.changes.map((c) => ({ action: c.action, kind: c.kind, key: c.key, fields: c.fields.join(",") }));
      if (output === "json") print(`${JSON.stringify({ realm, dryRun: answer.dryRun, realmCreated: answer.realmCreated, changes: rows }, null, 2)}\n`);
      else print(`${answer.dryRun ? "dry run: would apply" : "applied"} ${rows.length} change(s) to realm ${realm}${answer.realmCreated ? " (created)" : ""}\n${rows.length > 0 ? renderRows(rows, ["action", "kind", "key", "fields"], "table") : ""}`);
    },
  },
  "clients list": {
    arguments: ["REALM"],
    async run([realm], { admin, values, output, print }) {
      const rows: Record<string, string>[] = [];
      let pageToken = "";
      do {
        const page = await admin.listClients({ realm, clientIdPrefix: values.prefix ?? "", pageSize: 1000, pageToken });
        rows.push(...page.clients.map((c) => ({ clientId: c.clientId, enabled: String(c.enabled ?? true), public: String(c.publicClient), serviceAccount: String(c.serviceAccount), authMethods: c.authMethods.join(",") })));
        pageToken = page.nextPageToken;
      } while (pageToken);
      print(renderRows(rows, ["clientId", "enabled", "public", "serviceAccount", "authMethods"], output));
    },
  },
  "clients create": {
    arguments: ["REALM", "CLIENT_ID"],
    async run([realm, clientId], { admin, values, output, print }) {
      const publicClient = values.public ?? false;
      const secret = publicClient ? "" : randomBytes(32).toString("base64url");
      const { client } = await admin.createClient({
        realm,
        client: {
          clientId,
          publicClient,
          secret,
          serviceAccount: values["service-account"] ?? false,
          defaultScopes: values["default-scope"] ?? [],
          optionalScopes: values["optional-scope"] ?? [],
        },
      });
      const row = { clientId: client?.clientId ?? clientId, public: String(publicClient), authMethods: client?.authMethods.join(",") ?? "", secret };
      print(renderRows([row], publicClient ? ["clientId", "public", "authMethods"] : ["clientId", "public", "authMethods", "secret"], output));
    },
  },
  "clients rotate-secret": {
    arguments: ["REALM", "CLIENT_ID"],
    async run([realm, clientId], { admin, output, print }) {
      const { secret } = await admin.rotateClientSecret({ realm, clientId });
      print(renderRows([{ clientId, secret }], ["clientId", "secret"], output));
    },
  },
  "users list": {
    arguments: ["REALM"],
    async run([realm], { admin, values, output, print }) {
      const rows: Record<string, string>[] = [];
      let pageToken = "";
      do {
        const page = await admin.listUsers({ realm, usernamePrefix: values.prefix ?? "", pageSize: 1000, pageToken });
        rows.push(...page.users.map((u) => ({ id: u.id, username: u.username, email: u.email, enabled: String(u.enabled ?? true) })));
        pageToken = page.nextPageToken;
      } while (pageToken);
      print(renderRows(rows, ["id", "username", "email", "enabled"], output));
    },
  },
  "keys list": {
    arguments: ["REALM"],
    async run([realm], { admin, output, print }) {
      const { keys } = await admin.listSigningKeys({ realm });
      print(renderRows(keys.map(keyRow), ["kid", "algorithm", "state", "created", "retires", "origin"], output));
    },
  },
  "keys rotate": {
    arguments: ["REALM"],
    async run([realm], { admin, values, output, print }) {
      const { keys } = await admin.rotateSigningKey({ realm, algorithm: values.algorithm ?? "" });
      print(renderRows(keys.map(keyRow), ["kid", "algorithm", "state", "created", "retires", "origin"], output));
    },
  },
};
