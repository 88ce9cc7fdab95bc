/**
 * deploy/kubernetes as a cluster would use it: the Go test next to this file decodes every manifest strictly into
 * the Kubernetes API types (k8s.io/api) and checks how they fit together; here, Tessera itself is started with the
 * Deployment's settings and realm file and answers the probes the Deployment names.
 */
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { parseRealmDocument } from "../../src/realm-file/index.js";
import { eventually, healthClient, ServingStatus } from "../ops/support.js";
import { startMongoServer, type MongoServer } from "../support/mongo-server.js";
import { freePort } from "../support/ports.js";

const run = promisify(execFile);
const MANIFESTS = "deploy/kubernetes";
/** Go's module and build caches, outside the checkout (as FerretDB's build) so that a second run is fast. */
const CACHE = process.env.TESSERA_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tessera");
const GO_MISSING = spawnSync("go", ["version"]).error !== undefined;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { key: string } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  grpc?: { port: number; service?: string };
}
interface Container {
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  volumeMounts: { name: string; mountPath: string }[];
  startupProbe: Probe;
  livenessProbe: Probe;
  readinessProbe: Probe;
}

async function manifest<T>(file: string): Promise<T> {
  return parse(await readFile(join(MANIFESTS, file), "utf8")) as T;
}

describe("deploy/kubernetes", () => {
  it("every manifest decodes strictly into its Kubernetes API type and the parts fit (go test in test/deploy)", { skip: GO_MISSING && "go not found on PATH: the manifests' Go test (test/deploy) did not run" }, async () => {
    const env = { ...process.env, GOMODCACHE: join(CACHE, "go-mod"), GOCACHE: join(CACHE, "go-build"), GOFLAGS: "-mod=readonly" };
    const result = await run("go", ["test", "-count=1", "./..."], { cwd: "test/deploy", env, timeout: 300_000 }).catch((error: { stdout?: string; stderr?: string }) => error);
    assert.match(result.stdout ?? "", /^ok\s+tessera\/test\/deploy/m, `${result.stdout ?? ""}${result.stderr ?? ""}`);
  });

  describe("Tessera started with the Deployment's settings", () => {
    let container: Container;
    let mongo: MongoServer;
    let dir: string;
    let child: ReturnType<typeof spawn>;
    let stderr = "";
    const ports: Record<string, number> = {};

    before(async () => {
      const deployment = await manifest<{ spec: { template: { spec: { containers: Container[] } } } }>("deployment.yaml");
      const configMap = await manifest<{ data: Record<string, string> }>("configmap-realms.yaml");
      container = deployment.spec.template.spec.containers[0];
      mongo = await startMongoServer();
      dir = await mkdtemp(join(tmpdir(), "tessera-deploy-"));
      // The pod's files: the ConfigMap's keys in a directory standing for its mount.
      const realmMount = container.volumeMounts.find((mount) => mount.name === "realms")?.mountPath ?? "";
      for (const [key, text] of Object.entries(configMap.data)) await writeFile(join(dir, key), text);
      // The Deployment's literal values, with the paths, ports and host of this machine; the Secret's values made here.
      const literal = Object.fromEntries(container.env.filter((v) => v.value !== undefined).map((v) => [v.name, v.value as string]));
      for (const port of container.ports) ports[port.containerPort] = await freePort();
      const env: Record<string, string> = {
        ...literal,
        TESSERA_HOST: "127.0.0.1",
        TESSERA_PORT: String(ports[Number(literal.TESSERA_PORT)]),
        TESSERA_GRPC_PORT: String(ports[Number(literal.TESSERA_GRPC_PORT)]),
        TESSERA_IMPORTS: literal.TESSERA_IMPORTS.replace(`${realmMount}/`, `${dir}/`),
        TESSERA_MONGODB_DATABASE: `deploy_${randomBytes(4).toString("hex")}`,
        MONGODB_URI: mongo.uri,
        TESSERA_MASTER_KEY: randomBytes(32).toString("base64"),
      };
      child = spawn(process.execPath, ["--import", "tsx", "src/cli/tessera.ts", "serve"], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "ignore", "pipe"] });
      child.stderr?.on("data", (data: Buffer) => (stderr += data));
    });

    after(async () => {
      child?.kill("SIGTERM");
      if (child && child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
      await mongo?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** The URL of a probe's port on this machine: a port name or number of the container. */
    const urlOf = (port: string | number) => {
      const declared = container.ports.find((p) => p.name === port || p.containerPort === port);
      assert.ok(declared, `probe port ${port} is not a container port`);
      return `http://127.0.0.1:${ports[declared.containerPort]}`;
    };

    it("the startup probe's gRPC health Check on the gRPC port then SERVING; readiness then 200; liveness then 200", async () => {
      const grpc = container.startupProbe.grpc;
      assert.ok(grpc, "the startup probe is a gRPC probe");
      const client = healthClient(urlOf(grpc.port));
      try {
        await eventually(
          "the startup probe to pass",
          async () => (await client.health.check({ service: grpc.service ?? "" }).catch(() => undefined))?.status === ServingStatus.SERVING,
          60_000,
        ).catch((error: Error) => assert.fail(`${error.message}\n${stderr}`));
      } finally {
        client.close();
      }
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        const get = probe.httpGet;
        assert.ok(get, "an httpGet probe");
        const response = await fetch(`${urlOf(get.port)}${get.path}`);
        assert.equal(response.status, 200, `${get.path}: ${await response.text()}`);
      }
    });

    it("the ConfigMap's realm is imported and served under TESSERA_PUBLIC_URL", async () => {
      const publicUrl = container.env.find((v) => v.name === "TESSERA_PUBLIC_URL")?.value;
      const realm = (await parseRealmDocument((await manifest<{ data: Record<string, string> }>("configmap-realms.yaml")).data["production-realm.yaml"], "production-realm.yaml")).realm.name;
      const response = await fetch(`${urlOf("http")}/realms/${realm}/.well-known/openid-configuration`);
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { issuer: string }).issuer, `${publicUrl}/realms/${realm}`);
    });
  });
});
