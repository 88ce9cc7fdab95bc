/** A user of a realm. */
export interface User {
  /** Stable id (a UUID); the `sub` of the user's tokens. */
  id: string;
  /** Unique per realm. */
  username: string;
  email?: string;
  enabled: boolean;
  attributes: Record<string, string[]>;
}
