import type { ZodIssue } from "zod";

/** Where in a realm (file or admin request) a rule failed: keys and list indexes. */
export type IssuePath = readonly (string | number)[];

/**
 * One failed rule. `path` uses the realm file's key names (`public`, `secret`, `realm`), which are
 * also the admin API's; `message` says what was expected and never echoes a secret.
 */
export interface ValidationIssue {
  path: IssuePath;
  message: string;
}

/** Formats a path as it is written in messages: `clients[2].tokenExchange.scopePolicy`. */
export function formatIssuePath(path: IssuePath): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? key : `.${key}`;
  }
  return text;
}

/** Formats an issue as one line: `path: message`, or the message alone for the whole document. */
export function formatIssue(issue: ValidationIssue): string {
  return issue.path.length === 0 ? issue.message : `${formatIssuePath(issue.path)}: ${issue.message}`;
}

/** Prefixes the paths of issues found in a part of a realm (`clients[2]`...). */
export function prefixIssues(prefix: IssuePath, issues: readonly ValidationIssue[]): ValidationIssue[] {
  return issues.map((issue) => ({ path: [...prefix, ...issue.path], message: issue.message }));
}

/**
 * Turns zod's issues into {@link ValidationIssue}s. Values are echoed only for enums, whose fields
 * never hold a secret; a wrong type is described by its type alone.
 */
export function fromZodIssues(issues: readonly ZodIssue[]): ValidationIssue[] {
  return issues.flatMap((issue): ValidationIssue[] => {
    switch (issue.code) {
      case "invalid_type":
        return [{ path: issue.path, message: describeType(issue.expected, issue.received) }];
      case "invalid_enum_value":
        return [
          {
            path: issue.path,
            message: `expected one of ${issue.options.join(" | ")}, got ${JSON.stringify(issue.received)}`,
          },
        ];
      case "unrecognized_keys":
        return issue.keys.map((key) => ({ path: [...issue.path, key], message: `unknown key, ${issue.message}` }));
      default:
        return [{ path: issue.path, message: issue.message }];
    }
  });
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
};

function describeType(expected: string, received: string): string {
  const what = TYPE_NAMES[expected] ?? expected;
  if (received === "undefined") return `required, expected ${what}`;
  return `expected ${what}, got ${TYPE_NAMES[received] ?? received}`;
}
