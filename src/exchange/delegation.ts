import type { Client } from "../domain/index.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { VerifiedAccessToken } from "../tokens/token-verifier.js";
import { oauthError } from "./errors.js";

/** An `act` claim (RFC 8693 §4.1): the acting party, and the prior actor chain nested inside. */
export type ActClaim = Record<string, unknown> & { sub: string; act?: ActClaim };

/** Reads an `act` or `may_act` claim, if it is a JSON object with a string `sub`. */
export function actOf(value: unknown): ActClaim | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const sub = (value as Record<string, unknown>).sub;
  return typeof sub === "string" ? (value as ActClaim) : undefined;
}

/** How many actors a chain names: 0 for none, 1 for `{sub}`, 2 for `{sub, act: {sub}}`... */
export function actDepth(act: ActClaim | undefined): number {
  let depth = 0;
  for (let current = act; current !== undefined; current = actOf(current.act)) depth++;
  return depth;
}

/**
 * The `act` of a token issued for `actor` acting for someone: the actor's subject, issuer and
 * client, nesting `prior` (the chain it already carries) inside (RFC 8693 §4.1).
 */
export function actClaim(actor: { sub: string; iss?: string; clientId?: string }, prior: ActClaim | undefined): ActClaim {
  return {
    sub: actor.sub,
    ...(actor.iss !== undefined && { iss: actor.iss }),
    ...(actor.clientId !== undefined && { client_id: actor.clientId }),
    ...(prior !== undefined && { act: prior }),
  };
}

/** Refuses a chain longer than the realm allows (EXCHANGE.md "Delegation"). */
export function checkChainDepth(act: ActClaim, maxDepth: number): void {
  // RFC 8693 §4.1 leaves chain length to policy; a longer chain is an unacceptable request.
  if (actDepth(act) > maxDepth) throw oauthError.invalidRequest(`delegation chain longer than ${maxDepth} actors`);
}

/**
 * RFC 8693 §4.4: the subject token's `may_act` must name the actor, by `sub` and `iss` at least
 * (and `client_id` when it names one).
 */
export function mayActMatches(subject: VerifiedAccessToken, actor: VerifiedAccessToken): boolean {
  const mayAct = actOf(subject.may_act);
  if (!mayAct) return false;
  if (mayAct.sub !== actor.sub || mayAct.iss !== actor.iss) return false;
  const clientId = mayAct.client_id;
  return clientId === undefined || clientId === actor.azp || clientId === actor.client_id;
}

/**
 * The `may_act` claim for tokens issued to `client` (RFC 8693 §4.4): the service account of the
 * client its `tokenExchange.mayAct` names, when that client exists and is enabled.
 */
export async function mayActClaim(
  repository: RealmRepository,
  realm: string,
  issuer: string,
  client: Client,
): Promise<Record<string, string> | undefined> {
  const actorId = client.tokenExchange.mayAct;
  if (actorId === undefined) return undefined;
  const actor = await repository.getClient(realm, actorId);
  if (!actor?.enabled || !actor.serviceAccount) return undefined;
  return { sub: actor.serviceAccountUserId, iss: issuer, client_id: actor.clientId };
}
