import { parse as parseYaml } from "yaml";
import type { RealmChange } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { AdminCliError, EXIT, renderRows } from "../output.js";
import { readUserFile, text, usageError, type Command, type Context } from "./command.js";

const changeRows = (changes: RealmChange[]) => changes.map((c) => ({ action: c.action, kind: c.kind, key: c.key, fields: c.fields }));

/** The changes of an import as a table, after a line saying whether they were applied. */
function changesTable(realm: string, answer: { dryRun: boolean; realmCreated: boolean; changes: RealmChange[] }): string {
  const rows = changeRows(answer.changes);
  const head = `${answer.dryRun ? "dry run: would apply" : "applied"} ${rows.length} change(s) to realm ${realm}${answer.realmCreated ? " (created)" : ""}\n`;
  return head + (rows.length > 0 ? renderRows(rows, ["action", "kind", "key", "fields"], "table") : "");
}

/** `tessera admin realm import-keycloak` (also `tessera import-keycloak`): the conversion report and the import's changes. */
async function importKeycloak([path]: string[], context: Context): Promise<void> {
  const realmExport = await readUserFile(path);
  const dryRun = context.flags["dry-run"] === true;
  const answer = await context.admin.importKeycloakRealm({ realmExport, realm: text(context.flags, "realm") ?? "", dryRun });
  const notes = answer.notes.map((n) => ({ element: n.element, outcome: n.outcome, reason: n.reason }));
  if (context.output === "json") {
    const report = { realm: answer.realm, dryRun: answer.dryRun, realmCreated: answer.realmCreated, changes: changeRows(answer.changes), notes };
    context.print(`${JSON.stringify(dryRun ? { ...report, realmFile: answer.realmFile } : report, null, 2)}\n`);
    return;
  }
  const sections = [changesTable(answer.realm, answer), `${notes.length} note(s) on the Keycloak export\n${notes.length > 0 ? renderRows(notes, ["element", "outcome", "reason"], "table") : ""}`];
  if (dryRun) sections.push(`realm file that would be imported (client secrets masked):\n${answer.realmFile}`);
  context.print(sections.join("\n"));
}

/** `tessera admin realm ...`: whole realms in the realm file format, and Keycloak exports. */
export const REALM_FILE_COMMANDS: Command[] = [
  {
    words: "realm export",
    arguments: ["REALM"],
    summary: "the realm file on standard output (no secrets, no keys)",
    flags: { format: { type: "string", placeholder: "yaml|json", help: "file format (default yaml)" } },
    async run([realm], context) {
      const format = text(context.flags, "format") ?? "yaml";
      if (format !== "yaml" && format !== "json") throw usageError("--format: expected yaml or json");
      context.print((await context.admin.exportRealm({ realm, format })).realmFile);
    },
  },
  {
    words: "realm import",
    arguments: ["FILE"],
    summary: "create or update the file's realm, all or nothing (FILE - reads standard input)",
    flags: {
      "dry-run": { type: "boolean", help: "only report what would change" },
      prune: { type: "boolean", help: "also delete what the file does not hold" },
    },
    async run([path], context) {
      const realmFile = await readUserFile(path);
      let realm: unknown;
      try {
        realm = (parseYaml(realmFile) as { realm?: unknown } | null)?.realm;
      } catch {
        realm = undefined;
      }
      if (typeof realm !== "string") throw new AdminCliError(EXIT.invalid, `${path}: expected a realm file with a realm key`);
      const answer = await context.admin.importRealm({ realm, realmFile, dryRun: context.flags["dry-run"] === true, prune: context.flags.prune === true });
      if (context.output === "json") context.print(`${JSON.stringify({ realm, dryRun: answer.dryRun, realmCreated: answer.realmCreated, changes: changeRows(answer.changes) }, null, 2)}\n`);
      else context.print(changesTable(realm, answer));
    },
  },
  {
    words: "realm import-keycloak",
    arguments: ["EXPORT.json"],
    summary: "convert a Keycloak realm export (kc.sh export) and import it; a note per element left out or changed",
    flags: {
      "dry-run": { type: "boolean", help: "only report, and print the realm file it would import" },
      realm: { type: "string", placeholder: "NAME", help: "import into this realm (default the export's name)" },
    },
    run: importKeycloak,
  },
];
