import { clientCredentialsParts, type ClientAuth } from "../client-auth.js";
import { TokenExchangeError } from "../errors.js";
import { ACCESS_TOKEN_TYPE, type ExchangeCall, type ExchangeParams } from "../exchange-types.js";

/** RFC 8693 §2.1 grant type. */
const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

/** Options of {@link formExchange}. */
export interface FormExchangeOptions {
  /** The realm's token endpoint, `{issuer}/protocol/openid-connect/token`. */
  tokenUrl: string;
  /** How to authenticate as a client (private_key_jwt assertions name `tokenUrl` as their `aud`). */
  auth: ClientAuth;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Per-call timeout in milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** An {@link ExchangeCall} over the OAuth form endpoint (RFC 8693 §2.1, `application/x-www-form-urlencoded`). */
export function formExchange(options: FormExchangeOptions): ExchangeCall {
  const doFetch = options.fetch ?? fetch;
  return async (params) => {
    const credentials = await clientCredentialsParts(options.auth, options.tokenUrl);
    const body = formBody(params, credentials.fields);
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    if (credentials.authorization) headers.authorization = credentials.authorization;
    let response: Response;
    try {
      response = await doFetch(options.tokenUrl, { method: "POST", headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new TokenExchangeError({ error: "temporarily_unavailable", errorDescription: "token endpoint unreachable", cause: error });
    }
    const json = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!response.ok || typeof json?.access_token !== "string") {
      // RFC 6749 §5.2: the refusal is a JSON object with `error` and `error_description`.
      throw new TokenExchangeError({
        error: typeof json?.error === "string" ? json.error : response.status >= 500 ? "temporarily_unavailable" : "invalid_request",
        errorDescription: typeof json?.error_description === "string" ? json.error_description : `HTTP ${response.status} without an OAuth error body`,
        httpStatus: response.status,
        accountLinkUrl: typeof json?.["account-link-url"] === "string" ? json["account-link-url"] : undefined,
      });
    }
    return {
      accessToken: json.access_token,
      issuedTokenType: String(json.issued_token_type ?? ""),
      tokenType: String(json.token_type ?? ""),
      expiresIn: Number(json.expires_in ?? 0),
      scope: typeof json.scope === "string" && json.scope ? json.scope.split(" ") : [],
    };
  };
}

/** The RFC 8693 §2.1 form body of `params` plus client credential fields. */
function formBody(params: ExchangeParams, clientFields: Record<string, string>): URLSearchParams {
  const body = new URLSearchParams({
    ...clientFields,
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: params.subjectToken,
    subject_token_type: params.subjectTokenType ?? ACCESS_TOKEN_TYPE,
  });
  if (params.actorToken) {
    body.set("actor_token", params.actorToken);
    body.set("actor_token_type", params.actorTokenType ?? ACCESS_TOKEN_TYPE);
  }
  if (params.requestedTokenType) body.set("requested_token_type", params.requestedTokenType);
  for (const audience of params.audience ?? []) body.append("audience", audience);
  for (const resource of params.resource ?? []) body.append("resource", resource);
  if (params.scope?.length) body.set("scope", params.scope.join(" "));
  return body;
}
