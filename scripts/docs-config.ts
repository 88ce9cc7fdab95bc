// Rewrites the configuration reference of README.md (between the config-reference markers) from
// the option definitions in src/config/options.ts. `npm run docs:config`; a test fails when stale.
import { readFileSync, writeFileSync } from "node:fs";
import { configReferenceTable } from "../src/config/options.js";

const START = "<!-- config-reference:start -->";
const END = "<!-- config-reference:end -->";
const readme = readFileSync("README.md", "utf8");
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start < 0 || end < start) {
  process.stderr.write(`README.md: expected the markers ${START} and ${END}\n`);
  process.exit(1);
}
const updated = `${readme.slice(0, start + START.length)}\n${configReferenceTable()}\n${readme.slice(end)}`;
if (updated !== readme) writeFileSync("README.md", updated);
process.stdout.write(updated === readme ? "README.md: configuration reference up to date\n" : "README.md: configuration reference rewritten\n");
