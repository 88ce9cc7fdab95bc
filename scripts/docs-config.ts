// Rewrites the configuration reference of docs/operations.md (between the config-reference markers)
// from the option definitions in src/config/options.ts. `npm run docs:config`; a test fails when stale.
import { readFileSync, writeFileSync } from "node:fs";
import { configReferenceTable } from "../src/config/options.js";

const PAGE = "docs/operations.md";
const START = "<!-- config-reference:start -->";
const END = "<!-- config-reference:end -->";
const page = readFileSync(PAGE, "utf8");
const start = page.indexOf(START);
const end = page.indexOf(END);
if (start < 0 || end < start) {
  process.stderr.write(`${PAGE}: expected the markers ${START} and ${END}\n`);
  process.exit(1);
}
const updated = `${page.slice(0, start + START.length)}\n${configReferenceTable()}\n${page.slice(end)}`;
if (updated !== page) writeFileSync(PAGE, updated);
process.stdout.write(updated === page ? `${PAGE}: configuration reference up to date\n` : `${PAGE}: configuration reference rewritten\n`);
