import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { basicAuthorization } from "../../domain/index.js";
import { AdminCliError, EXIT } from "../output.js";
import { text, usageError, type FlagValues } from "./command.js";

/** Client credentials at the master realm's token endpoint, then a transport that sends the admin token on every call. */
export async function login(flags: FlagValues, env: NodeJS.ProcessEnv): Promise<Transport> {
  const baseUrl = (text(flags, "url") ?? env.TESSERA_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
  const clientId = text(flags, "client-id") ?? env.TESSERA_ADMIN_CLIENT_ID ?? "admin";
  const secret = text(flags, "client-secret") ?? env.TESSERA_ADMIN_CLIENT_SECRET;
  if (!secret) throw usageError("expected the admin client's secret in TESSERA_ADMIN_CLIENT_SECRET (or --client-secret)");
  if (!URL.canParse(baseUrl)) throw usageError("--url: expected an absolute URL");
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
  return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer] });
}
