/** A user of a realm. */
export interface User {
  /** Stable id (a UUID); the `sub` of the user's tokens. */
  id: string;
  /** Unique per realm. */
  username: string;
  email?: string;
  enabled: boolean;
  attributes: Record<string, string[]>;
  /** Version set by each AdminService write (optimistic concurrency); absent on objects never written by it. */
  etag?: string;
}
