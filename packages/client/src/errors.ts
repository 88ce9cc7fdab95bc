import { Code, ConnectError } from "@connectrpc/connect";

/** The gRPC code Tessera's contract pairs with each OAuth `error` (EXCHANGE.md, Errors). */
const CODE_OF_ERROR: Record<string, Code> = {
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
};

/** What {@link TokenExchangeError} is built from. */
export interface TokenExchangeErrorInit {
  /** The OAuth `error` code (RFC 6749 §5.2, RFC 8693 §2.2.2), e.g. `invalid_request`. */
  error: string;
  /** The OAuth `error_description`; Tessera never puts a token or a secret in it. */
  errorDescription?: string;
  /** The gRPC status code, when the exchange went over gRPC or Connect. */
  code?: Code;
  /** The HTTP status, when the exchange went over the OAuth form endpoint. */
  httpStatus?: number;
  /** `account-link-url` of a `not_linked` refusal. */
  accountLinkUrl?: string;
  /** The transport error this was read from. */
  cause?: unknown;
}

/**
 * Tessera refused an exchange (or could not be reached): the OAuth `error` and `error_description`, and the gRPC
 * code whichever transport was used (the form endpoint's refusals get the code the contract pairs with the error).
 */
export class TokenExchangeError extends Error {
  /** The OAuth `error` code. */
  readonly error: string;
  /** The OAuth `error_description`, empty when Tessera gave none. */
  readonly errorDescription: string;
  /** The gRPC status code. */
  readonly code: Code;
  /** The HTTP status of a form-endpoint refusal. */
  readonly httpStatus: number | undefined;
  /** Where an unlinked user may link an identity provider (`not_linked`). */
  readonly accountLinkUrl: string | undefined;

  /** A refusal from its OAuth `error`; the gRPC code, when not given, is the one the contract pairs with it. */
  constructor(init: TokenExchangeErrorInit) {
    super(init.errorDescription ? `${init.error}: ${init.errorDescription}` : init.error, { cause: init.cause });
    this.name = "TokenExchangeError";
    this.error = init.error;
    this.errorDescription = init.errorDescription ?? "";
    this.code = init.code ?? CODE_OF_ERROR[init.error] ?? Code.Unknown;
    this.httpStatus = init.httpStatus;
    this.accountLinkUrl = init.accountLinkUrl;
  }

  /** This refusal as the ConnectError a service hands its own caller (same code and message). */
  toConnectError(): ConnectError {
    return new ConnectError(this.message, this.code, undefined, undefined, this);
  }
}
