/** An OAuth scope of a realm. */
export interface Scope {
  name: string;
  /** Client IDs a token carrying this scope is meant for: they become its `aud`. */
  audiences: string[];
  description?: string;
  /** Version set by each AdminService write (optimistic concurrency); absent on objects never written by it. */
  etag?: string;
}
