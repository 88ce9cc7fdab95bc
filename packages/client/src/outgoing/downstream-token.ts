import { Code } from "@connectrpc/connect";
import { TokenExchangeError } from "../errors.js";
import type { ExchangeParams } from "../exchange-types.js";
import { currentIncomingToken } from "../incoming-context.js";
import type { TokenExchanger } from "../token-exchanger.js";

/** Where a token comes from: a file ({@link workloadTokenFile}), a function of yours; undefined when there is none. */
export type TokenSource = () => string | undefined | Promise<string | undefined>;

/** What an outgoing call needs: which service it goes to and how the token for it is obtained. */
export interface DownstreamOptions extends Omit<ExchangeParams, "subjectToken" | "actorToken"> {
  /** The exchanger (and its cache) to use. */
  exchanger: TokenExchanger;
  /** The token to exchange; the current incoming token ({@link currentIncomingToken}) when absent. */
  subjectToken?: TokenSource;
  /** An `actor_token` for delegation (RFC 8693 §2.1), e.g. this service's own client-credentials token. */
  actorToken?: TokenSource;
}

/** The token for a downstream call: the subject token exchanged for the downstream audience, resource and scope. */
export async function downstreamToken(options: DownstreamOptions): Promise<string> {
  const { exchanger, subjectToken, actorToken, ...request } = options;
  const subject = subjectToken ? await subjectToken() : currentIncomingToken()?.token;
  if (!subject) {
    // RFC 8693 §2.1: subject_token is required; the outgoing call is not made without one.
    throw new TokenExchangeError({ error: "invalid_request", errorDescription: "no incoming token to exchange", code: Code.Unauthenticated });
  }
  const actor = actorToken ? await actorToken() : undefined;
  return (await exchanger.exchange({ ...request, subjectToken: subject, ...(actor ? { actorToken: actor } : {}) })).accessToken;
}
