// Makes the real Keycloak artefacts of test/keycloak/fixtures/ with Keycloak 26.7.3 itself:
// starts it (start-dev, from Maven's keycloak-quarkus-dist zip, cached in ~/.cache/tessera/keycloak)
// with the realm of migration-source.json, records what its token endpoint answers to a set of
// grants and exchanges (migration-keycloak-answers.json: status, error, aud, scope, azp), stops it and
// exports the realm with `kc.sh export` (migration-export.json). The import test replays the same
// requests on Tessera and compares. Needs Java 21+ and Maven; takes about two minutes.
//
//   node scripts/keycloak-fixture.mjs
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, mkdirSync, copyFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

const VERSION = "26.7.3";
const FIXTURES = new URL("../test/keycloak/fixtures/", import.meta.url).pathname;
const CACHE = join(homedir(), ".cache", "tessera", "keycloak");
const HOME = join(CACHE, `keycloak-${VERSION}`);
const JAVA_HOME = process.env.JAVA_HOME ?? "/usr/lib/jvm/temurin-25-jdk-amd64";
const REALM = "migration";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const SECRETS = { gateway: "gateway-secret-0123456789", "orders-api": "orders-secret-0123456789" };

function installKeycloak() {
  if (existsSync(join(HOME, "bin", "kc.sh"))) return;
  mkdirSync(CACHE, { recursive: true });
  const zip = join(CACHE, `keycloak-quarkus-dist-${VERSION}.zip`);
  if (!existsSync(zip)) execFileSync("mvn", ["-q", "dependency:copy", `-Dartifact=org.keycloak:keycloak-quarkus-dist:${VERSION}:zip`, `-DoutputDirectory=${CACHE}`], { stdio: "inherit" });
  execFileSync("unzip", ["-q", "-o", zip, "-d", CACHE], { stdio: "inherit" });
}

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const env = { ...process.env, JAVA_HOME, PATH: `${JAVA_HOME}/bin:${process.env.PATH}` };

async function post(url, params, basic) {
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  if (basic) headers.authorization = `Basic ${Buffer.from(basic.map(encodeURIComponent).join(":")).toString("base64")}`;
  const response = await fetch(url, { method: "POST", headers, body: new URLSearchParams(params) });
  return { status: response.status, body: await response.json() };
}

/** What a caller compares of an answer: never the token itself. */
function summary({ status, body }) {
  if (status !== 200) return { status, error: body.error };
  const claims = JSON.parse(Buffer.from(body.access_token.split(".")[1], "base64url").toString());
  const aud = claims.aud === undefined ? [] : [claims.aud].flat().sort();
  return { status, aud, scope: body.scope.split(" ").sort().join(" "), azp: claims.azp, issued_token_type: body.issued_token_type ?? null };
}

async function recordAnswers(tokenUrl) {
  const answers = {};
  const gateway = await post(tokenUrl, { grant_type: "client_credentials", scope: "orders.read" }, ["gateway", SECRETS.gateway]);
  answers["gateway client_credentials scope=orders.read"] = summary(gateway);
  const subject = gateway.body.access_token;
  const exchange = (client, params) => post(tokenUrl, { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN, ...params }, [client, SECRETS[client]]);
  answers["gateway exchanges for audience=orders-api"] = summary(await exchange("gateway", { audience: "orders-api" }));
  answers["gateway exchanges for audience=orders-api scope=orders.read"] = summary(await exchange("gateway", { audience: "orders-api", scope: "orders.read" }));
  answers["orders-api exchanges for audience=inventory-api scope=inventory.read"] = summary(await exchange("orders-api", { audience: "inventory-api", scope: "inventory.read" }));
  answers["orders-api exchanges for audience=gateway"] = summary(await exchange("orders-api", { audience: "gateway" }));
  answers["gateway exchanges for scope=inventory.read"] = summary(await exchange("gateway", { scope: "inventory.read" }));
  answers["gateway exchanges for audience=unknown-client"] = summary(await exchange("gateway", { audience: "unknown-client" }));
  return answers;
}

async function main() {
  installKeycloak();
  rmSync(join(HOME, "data"), { recursive: true, force: true });
  mkdirSync(join(HOME, "data", "import"), { recursive: true });
  copyFileSync(join(FIXTURES, "migration-source.json"), join(HOME, "data", "import", "migration-source.json"));
  const port = await freePort();
  const keycloak = spawn(join(HOME, "bin", "kc.sh"), ["start-dev", "--http-port", String(port), "--http-host", "127.0.0.1", "--import-realm"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  keycloak.stdout.on("data", (chunk) => (output += chunk));
  keycloak.stderr.on("data", (chunk) => (output += chunk));
  const base = `http://127.0.0.1:${port}/realms/${REALM}`;
  try {
    for (let waited = 0; ; waited += 1) {
      if (waited > 180) throw new Error(`Keycloak did not start in 180 s:\n${output.slice(-3000)}`);
      const ready = await fetch(`${base}/.well-known/openid-configuration`).then((r) => r.ok, () => false);
      if (ready) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const answers = await recordAnswers(`${base}/protocol/openid-connect/token`);
    writeFileSync(join(FIXTURES, "migration-keycloak-answers.json"), `${JSON.stringify({ keycloak: VERSION, answers }, null, 2)}\n`);
    console.log(answers);
  } finally {
    keycloak.kill("SIGTERM");
    await new Promise((resolve) => keycloak.once("exit", resolve));
  }
  const file = join(FIXTURES, "migration-export.json");
  execFileSync(join(HOME, "bin", "kc.sh"), ["export", "--realm", REALM, "--file", file, "--users", "same_file"], { env, stdio: "inherit" });
  JSON.parse(readFileSync(file, "utf8"));
  console.log(`wrote ${file}`);
}

await main();
