import { Code } from "@connectrpc/connect";
import { TokenExchangeError } from "../errors.js";
import type { ExchangeParams } from "../exchange-types.js";
import { currentIncomingToken } from "../incoming-context.js";
import type { TokenExchanger } from "../token-exchanger.js";

/** Where the token to exchange comes from: the current request (default), a file, a function of yours. */
export type SubjectTokenSource = () => string | undefined | Promise<string | undefined>;

/** What an outgoing call needs: which service it goes to and how the token for it is obtained. */
export interface DownstreamOptions extends Omit<ExchangeParams, "subjectToken"> {
  /** The exchanger (and its cache) to use. */
  exchanger: TokenExchanger;
  /** The token to exchange; the current incoming token ({@link currentIncomingToken}) when absent. */
  subjectToken?: SubjectTokenSource;
}

/** The token for a downstream call: the subject token exchanged for the downstream audience, resource and scope. */
export async function downstreamToken(options: DownstreamOptions): Promise<string> {
  const { exchanger, subjectToken, ...request } = options;
  const subject = subjectToken ? await subjectToken() : currentIncomingToken()?.token;
  if (!subject) {
    // RFC 8693 §2.1: nothing to exchange; the outgoing call is not made without a token.
    throw new TokenExchangeError({ error: "invalid_request", errorDescription: "no incoming token to exchange", code: Code.Unauthenticated });
  }
  return (await exchanger.exchange({ ...request, subjectToken: subject })).accessToken;
}
