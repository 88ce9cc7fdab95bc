// `npm audit --omit=dev`, for CI: fails on any advisory against a runtime dependency. A registry
// without the advisory endpoint (a mirror answering 405, or no network) is said in one line and
// does not fail the run: nothing was checked, which is not the same as a finding.
import { spawnSync } from "node:child_process";

const run = spawnSync("npm", ["audit", "--omit=dev", "--json"], { encoding: "utf8", timeout: 120_000 });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  console.log(`npm audit: no report (${(run.stderr || run.error?.message || "no output").trim().split("\n")[0]}): not checked`);
  process.exit(0);
}
if (report.error !== undefined || report.statusCode !== undefined) {
  console.log(`npm audit: the registry has no advisory endpoint (${report.statusCode ?? report.error?.code ?? "error"} ${report.uri ?? ""}): not checked`);
  process.exit(0);
}
const findings = Object.values(report.vulnerabilities ?? {});
if (findings.length === 0) {
  console.log(`npm audit: no advisory against the ${report.metadata?.dependencies?.prod ?? "?"} runtime dependencies`);
  process.exit(0);
}
for (const finding of findings) {
  const via = finding.via.map((v) => (typeof v === "string" ? v : `${v.title} (${v.url})`)).join("; ");
  console.log(`npm audit: ${finding.severity} ${finding.name} ${finding.range}: ${via}`);
}
process.exit(1);
