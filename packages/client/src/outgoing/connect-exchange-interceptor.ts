import type { Interceptor } from "@connectrpc/connect";
import { TokenExchangeError } from "../errors.js";
import { downstreamToken, type DownstreamOptions } from "./downstream-token.js";

/**
 * A Connect client interceptor: exchanges the incoming token for the downstream audience and sends the result
 * as `authorization: Bearer`. A refused exchange fails the call with the refusal's gRPC code.
 */
export function exchangeInterceptor(options: DownstreamOptions): Interceptor {
  return (next) => async (request) => {
    let token: string;
    try {
      token = await downstreamToken(options);
    } catch (error) {
      throw error instanceof TokenExchangeError ? error.toConnectError() : error;
    }
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
