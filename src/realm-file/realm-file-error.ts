import { formatIssue, type ValidationIssue } from "./issues.js";

/**
 * A realm file that cannot be imported. The message is one line: the file, the path of the key
 * and what was expected, e.g. `demo.yaml: clients[2].tokenExchange.scopePolicy: expected one of
 * downscope | requester, got "up"`; when more rules failed, it ends with how many more, and
 * {@link RealmFileError.issues} lists them all. No message quotes a client secret.
 */
export class RealmFileError extends Error {
  override readonly name = "RealmFileError";

  /**
   * @param source - the file, as named to the user
   * @param issues - every failed rule; at least one
   */
  constructor(
    readonly source: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
    super(`${source}: ${issues.map(formatIssue)[0]}${more}`);
  }
}
