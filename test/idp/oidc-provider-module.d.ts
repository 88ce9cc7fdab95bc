// oidc-provider v9 ships no type declarations; this is the little of its API the tests use.
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  /** An OpenID Provider (https://github.com/panva/node-oidc-provider). */
  export default class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    readonly issuer: string;
    /** The request listener of the provider's Koa application. */
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
}
