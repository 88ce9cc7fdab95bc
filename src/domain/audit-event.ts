/** The kinds of audited operation. */
export const AUDIT_EVENT_KINDS = [
  "token_exchange",
  "client_credentials",
  "refresh_token",
  "introspection",
  "revocation",
  "logout",
  "session_end",
  "admin",
  /** ExplainExchange: a dry run of a token exchange. */
  "explain",
] as const;

/** What an audit event records. */
export type AuditEventKind = (typeof AUDIT_EVENT_KINDS)[number];

/**
 * One audited operation, successful or not. Carries token ids (`jti`), never a token or secret.
 */
export interface AuditEvent {
  id: string;
  time: Date;
  realm: string;
  kind: AuditEventKind;
  result: "success" | "failure";
  /** OAuth error code of a failure. */
  error?: string;
  clientId?: string;
  subject?: string;
  /** `sub` of the outermost actor, for delegation and impersonation. */
  actor?: string;
  audience?: string[];
  scopes?: string[];
  sessionId?: string;
  /** Ids of the tokens involved: presented first, then issued. */
  jtis: string[];
  /** The peer address of the request's connection (Tessera reads no forwarding header). */
  sourceAddress?: string;
  /** `admin` events: the AdminService method (`UpdateClient`). */
  operation?: string;
  /** `admin` events: what it changed (`clients/gateway`, `realms/demo`). */
  resource?: string;
  /** `admin` events: SHA-256 (base64url) of the object before the change, absent when it was created. */
  beforeDigest?: string;
  /** `admin` events: SHA-256 (base64url) of the object after the change, absent when it was deleted. */
  afterDigest?: string;
}
