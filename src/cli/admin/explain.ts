import { createClient } from "@connectrpc/connect";
import {
  ExplainedOutcomeSchema,
  ExplainedRuleSchema,
  ExplainExchangeResponseSchema,
  TokenExchangeService,
} from "../../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { TokenType } from "../../domain/index.js";
import { readInput } from "../input.js";
import { renderObject } from "../output.js";
import { messageJson } from "../message-json.js";
import { list, printMessages, text, usageError, type Command } from "./command.js";

/** A token flag's value: the token itself, or `-` to read it from standard input (kept out of shell history). */
async function tokenOf(value: string | undefined): Promise<string> {
  if (value === undefined) return "";
  return value === "-" ? (await readInput("-")).trim() : value;
}

/** `tessera admin explain`: ExplainExchange as a realm admin, for the client `--client` names. */
export const EXPLAIN_COMMANDS: Command[] = [
  {
    words: "explain exchange",
    arguments: ["REALM"],
    summary: "why a token exchange would be granted or refused: every rule, and the outcome, issuing nothing",
    flags: {
      client: { type: "string", placeholder: "CLIENT_ID", help: "the requesting client (its credentials are not needed)" },
      "subject-token": { type: "string", placeholder: "TOKEN|-", help: "the subject token (-: read from standard input)" },
      "subject-token-type": { type: "string", placeholder: "URI", help: "default urn:ietf:params:oauth:token-type:access_token" },
      "actor-token": { type: "string", placeholder: "TOKEN|-", help: "the actor token, for delegation (-: standard input)" },
      "actor-token-type": { type: "string", placeholder: "URI", help: "default access_token when --actor-token is given" },
      audience: { type: "string", multiple: true, placeholder: "CLIENT_ID", help: "a target audience (repeatable)" },
      resource: { type: "string", multiple: true, placeholder: "URI", help: "a target resource (repeatable)" },
      scope: { type: "string", placeholder: "SCOPES", help: "space-delimited scopes" },
      "requested-token-type": { type: "string", placeholder: "URI", help: "the token type asked for" },
      "requested-subject": { type: "string", placeholder: "USER", help: "impersonate this user" },
      "subject-issuer": { type: "string", placeholder: "ALIAS", help: "identity provider of an external subject token" },
      "requested-issuer": { type: "string", placeholder: "ALIAS", help: "identity provider whose stored token is asked for" },
    },
    async run([realm], context) {
      const clientId = text(context.flags, "client");
      if (!clientId) throw usageError("explain exchange: expected --client CLIENT_ID", "tessera admin explain exchange --help");
      const subjectToken = await tokenOf(text(context.flags, "subject-token"));
      if (context.flags["subject-token"] === "-" && context.flags["actor-token"] === "-") throw usageError("only one of --subject-token and --actor-token can read standard input");
      const actorToken = await tokenOf(text(context.flags, "actor-token"));
      const exchange = createClient(TokenExchangeService, context.transport);
      const answer = await exchange.explainExchange({
        exchange: {
          realm,
          client: { clientId },
          subjectToken,
          subjectTokenType: text(context.flags, "subject-token-type") ?? TokenType.accessToken,
          actorToken,
          actorTokenType: text(context.flags, "actor-token-type") ?? (actorToken ? TokenType.accessToken : ""),
          audience: list(context.flags, "audience"),
          resource: list(context.flags, "resource"),
          scope: text(context.flags, "scope") ?? "",
          requestedTokenType: text(context.flags, "requested-token-type") ?? "",
          requestedSubject: text(context.flags, "requested-subject") ?? "",
          subjectIssuer: text(context.flags, "subject-issuer") ?? "",
          requestedIssuer: text(context.flags, "requested-issuer") ?? "",
        },
      });
      if (context.output === "json") {
        context.print(renderObject(messageJson(ExplainExchangeResponseSchema, answer), "json"));
        return;
      }
      printMessages(context, ExplainedRuleSchema, answer.rules, ["name", "reference", "passed", "detail"]);
      if (answer.outcome) context.print(renderObject(messageJson(ExplainedOutcomeSchema, answer.outcome), "table"));
    },
  },
];
