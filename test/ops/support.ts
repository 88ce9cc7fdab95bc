/** Helpers of the operations tests: gRPC health clients and polling. */
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { StorageUnavailableError, type RealmRepository } from "../../src/storage/realm-repository.js";

export { ServingStatus };

/** A gRPC (HTTP/2) client of `grpc.health.v1.Health` and the session to close after the test. */
export function healthClient(baseUrl: string): { health: Client<typeof Health>; close(): void } {
  const sessionManager = new Http2SessionManager(baseUrl);
  return {
    health: createClient(Health, createGrpcTransport({ baseUrl, sessionManager })),
    close: () => sessionManager.abort(),
  };
}

/** Polls `probe` every 50 ms until it returns true; fails after `timeoutMs`. */
export async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A memory repository whose storage can be made unreachable: every call then throws StorageUnavailableError. */
export function switchableRepository(): { repository: RealmRepository; setReachable(reachable: boolean): void } {
  let reachable = true;
  const memory = new MemoryRealmRepository();
  const repository = new Proxy(memory, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function" || property === "close") return value;
      return (...args: unknown[]) =>
        reachable ? Reflect.apply(value, target, args) : Promise.reject(new StorageUnavailableError("storage unreachable (test)"));
    },
  });
  return { repository, setReachable: (value) => (reachable = value) };
}

/** The JSON of `GET {baseUrl}{path}` and its status. */
export async function getJson(baseUrl: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The start banner of a `tessera serve` run in JSON log format: the record `msg: "Tessera listening"`. */
export interface BannerRecord {
  urls: { main: string; grpc?: string };
  storage: string;
  issuers: string;
  workers?: number;
  bootstrapAdmin?: { realm: string; clientId: string; generatedSecret: string };
  tryCommand?: string;
}

/** The JSON lines of a run's stdout so far (a partial last line is left out). */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{") && line.endsWith("}"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The banner record in a run's stdout, once written. */
export function bannerOf(stdout: string): BannerRecord | undefined {
  return jsonLines(stdout).find((line) => line.msg === "Tessera listening") as BannerRecord | undefined;
}
