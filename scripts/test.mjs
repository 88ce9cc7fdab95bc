// Runs the whole test suite with node's test runner: every test/**/*.test.ts file.
// MongoDB tests use MONGODB_URI when set, otherwise they start FerretDB themselves.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const files = readdirSync("test", { recursive: true })
  .filter((file) => file.endsWith(".test.ts"))
  .map((file) => join("test", file))
  .sort();
const only = process.argv.slice(2);
const selected = only.length > 0 ? files.filter((file) => only.some((part) => file.includes(part))) : files;
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", ...selected], { stdio: "inherit" });
process.exit(result.status ?? 1);
