import type { HttpResponse } from "./node-types.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { toOAuthError, type OAuthError, type OAuthErrorCode } from "../exchange/errors.js";
import type { Logger } from "../ops/logger.js";
import { oauthDetailOf, toConnectError } from "../rpc/errors.js";
import { sendJson } from "./responses.js";

/** The one table from OAuth error codes to HTTP status (RFC 6749 §5.2, EXCHANGE.md "Errors"). */
const HTTP_STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_grant: 400,
  not_linked: 400,
  temporarily_unavailable: 503,
  server_error: 500,
  not_found: 404,
};

/**
 * Renders a failure as the RFC 6749 §5.2 JSON error body with its HTTP status. A ConnectError
 * from the in-process RPC is read back through its OAuthError detail, so both surfaces agree.
 */
export function sendOAuthError(res: HttpResponse, failure: unknown, log: Logger): void {
  const connectError = failure instanceof ConnectError ? failure : toConnectError(failure, log);
  const detail = oauthDetailOf(connectError);
  const code = (detail?.error ?? "server_error") as OAuthErrorCode;
  const body: Record<string, string> = {
    error: code,
    error_description: detail?.errorDescription ?? "internal error",
  };
  if (detail?.accountLinkUrl) body["account-link-url"] = detail.accountLinkUrl;
  const headers: Record<string, string> = {};
  const challenge = connectError.metadata.get("www-authenticate");
  if (challenge) headers["www-authenticate"] = challenge;
  const retryAfter = connectError.metadata.get("retry-after");
  if (retryAfter) headers["retry-after"] = retryAfter;
  // Issue 13: a throttled attempt is 429 Too Many Requests (RFC 6585 §4), the RPC's RESOURCE_EXHAUSTED.
  const status = connectError.code === Code.ResourceExhausted ? 429 : (HTTP_STATUS[code] ?? 500);
  sendJson(res, status, body, { headers });
}

/** Renders an {@link OAuthError} raised by the adapter itself (malformed form, unknown path). */
export function sendAdapterError(res: HttpResponse, error: OAuthError, log: Logger): void {
  sendOAuthError(res, toConnectError(toOAuthError(error).error, log), log);
}
