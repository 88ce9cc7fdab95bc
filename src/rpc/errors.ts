import { Code, ConnectError } from "@connectrpc/connect";
import { OAuthErrorSchema, type OAuthError as OAuthErrorDetail } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { toOAuthError, type OAuthError, type OAuthErrorCode } from "../exchange/errors.js";
import type { Logger } from "pino";

/** The one table from OAuth error codes to gRPC / Connect codes (EXCHANGE.md, "Errors"). */
const CONNECT_CODE: Record<OAuthErrorCode, Code> = {
  invalid_request: Code.InvalidArgument,
  invalid_client: Code.Unauthenticated,
  unauthorized_client: Code.PermissionDenied,
  unsupported_grant_type: Code.Unimplemented,
  invalid_scope: Code.InvalidArgument,
  invalid_target: Code.InvalidArgument,
  invalid_grant: Code.InvalidArgument,
  not_linked: Code.FailedPrecondition,
  temporarily_unavailable: Code.Unavailable,
  server_error: Code.Internal,
  not_found: Code.NotFound,
};

/**
 * Converts any failure of a grant into a ConnectError carrying the OAuth error as a typed
 * `tessera.exchange.v1.OAuthError` detail, and `www-authenticate` metadata when Basic failed.
 * Unexpected failures are logged with an id; the client sees only the id.
 */
export function toConnectError(failure: unknown, log: Logger): ConnectError {
  if (failure instanceof ConnectError) return failure;
  const { error, unexpected, errorId } = toOAuthError(failure);
  if (unexpected) log.error({ errorId, err: failure }, "unexpected failure");
  return connectErrorOf(error);
}

/**
 * An OAuth error as a ConnectError: its code from the table, except a throttled attempt, which is
 * RESOURCE_EXHAUSTED with a `retry-after` trailer (issue 13; the detail still says `temporarily_unavailable`).
 */
export function connectErrorOf(error: OAuthError): ConnectError {
  const metadata = new Headers();
  if (error.basicChallenge) metadata.set("www-authenticate", 'Basic realm="tessera", charset="UTF-8"');
  const throttled = error.retryAfterSeconds !== undefined;
  if (throttled) metadata.set("retry-after", String(error.retryAfterSeconds));
  return new ConnectError(error.description, throttled ? Code.ResourceExhausted : CONNECT_CODE[error.code], metadata, [
    {
      desc: OAuthErrorSchema,
      value: { error: error.code, errorDescription: error.description, accountLinkUrl: error.accountLinkUrl ?? "" },
    },
  ]);
}

/** Reads the OAuth error detail of a ConnectError, if it has one. */
export function oauthDetailOf(error: ConnectError): OAuthErrorDetail | undefined {
  return error.findDetails(OAuthErrorSchema)[0];
}
