import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, type Http2SessionManager } from "@connectrpc/connect-node";
import { randomBytes, randomUUID } from "node:crypto";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { MASTER_REALM } from "../../src/admin/admin-access.js";
import { createAdminClient, ensureMasterRealm } from "../../src/admin/bootstrap.js";
import { StorageConflictError, type RealmRepository } from "../../src/storage/realm-repository.js";
import { postForm } from "./oauth-client.js";

/** An admin client of the master realm and ways to call the AdminService as it. */
export interface AdminCaller {
  clientId: string;
  secret: string;
  /** A fresh client-credentials access token of the admin client. */
  fetchToken(): Promise<string>;
  /** Adds `authorization: Bearer` with a cached token; an UNAUTHENTICATED answer (expired token) is retried once with a new one. */
  interceptor: Interceptor;
  /** `{ authorization: "Bearer ..." }` for one call (or for buf curl, grpc-js metadata...). */
  headers(): Promise<Record<string, string>>;
  /** A transport that authenticates every call. */
  transport(protocol?: "connect" | "grpc" | "grpc-web", sessionManager?: Http2SessionManager): Transport;
  /** An AdminService client over {@link transport}. */
  admin(protocol?: "connect" | "grpc" | "grpc-web"): Client<typeof AdminService>;
}

/** What {@link createAdminCaller} needs of a running Tessera. */
export interface AdminTarget {
  baseUrl: string;
  repository: RealmRepository;
}

/**
 * Creates an admin client in the master realm (the realm and its scopes too, when missing) whose
 * tokens carry `scopes` (default `admin`), and returns ways to call the AdminService as it. Every
 * scope named is created in the master realm if it does not exist (e.g. `admin:demo`).
 */
export async function createAdminCaller(target: AdminTarget, scopes: string[] = ["admin"], clientId = `admin-${randomUUID()}`): Promise<AdminCaller> {
  const { repository, baseUrl } = target;
  await ensureMasterRealm(repository);
  for (const name of scopes) {
    if (await repository.getScope(MASTER_REALM, name)) continue;
    await repository.createScope(MASTER_REALM, { name, audiences: [] }).catch((error: unknown) => {
      if (!(error instanceof StorageConflictError)) throw error;
    });
  }
  const secret = randomBytes(18).toString("base64url");
  await createAdminClient(repository, clientId, secret, { defaultScopes: scopes, optionalScopes: [] });
  const fetchToken = async (): Promise<string> => {
    const answer = await postForm(`${baseUrl}/realms/${MASTER_REALM}/protocol/openid-connect/token`, { grant_type: "client_credentials" }, { basic: [clientId, secret] });
    const token = answer.body.access_token;
    if (answer.status !== 200 || typeof token !== "string") throw new Error(`admin token: ${answer.status} ${JSON.stringify(answer.body)}`);
    return token;
  };
  let cached: Promise<string> | undefined;
  const current = () => (cached ??= fetchToken().catch((error: unknown) => {
    cached = undefined;
    throw error;
  }));
  const interceptor: Interceptor = (next) => async (req) => {
    const token = await current();
    req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (error) {
      if (!(error instanceof ConnectError && error.code === Code.Unauthenticated) || req.stream) throw error;
      if (cached === undefined || (await cached) === token) cached = undefined;
      req.header.set("authorization", `Bearer ${await current()}`);
      return next(req);
    }
  };
  const transport: AdminCaller["transport"] = (protocol = "connect", sessionManager) => {
    const interceptors = [interceptor];
    if (protocol === "grpc") return createGrpcTransport({ baseUrl, interceptors, ...(sessionManager && { sessionManager }) });
    if (protocol === "grpc-web") return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors });
    return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors });
  };
  return {
    clientId,
    secret,
    fetchToken,
    interceptor,
    headers: async () => ({ authorization: `Bearer ${await current()}` }),
    transport,
    admin: (protocol) => createClient(AdminService, transport(protocol)),
  };
}
