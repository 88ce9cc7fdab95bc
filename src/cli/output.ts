import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";

/** How `tessera admin` prints results. */
export type OutputFormat = "json" | "table";

/**
 * Exit codes of `tessera admin`, stable for scripts: 0 success, then one code per kind of failure.
 */
export const EXIT = {
  ok: 0,
  /** The server failed (INTERNAL, UNKNOWN...) or answered something unexpected. */
  failure: 1,
  /** Wrong command line: unknown command or option, missing argument. */
  usage: 2,
  /** Login failed, or the token lacks the scope (UNAUTHENTICATED, PERMISSION_DENIED). */
  denied: 3,
  /** The realm or object does not exist (NOT_FOUND). */
  notFound: 4,
  /** It exists already, or changed meanwhile (ALREADY_EXISTS, ABORTED, FAILED_PRECONDITION). */
  conflict: 5,
  /** The server refused the request's content (INVALID_ARGUMENT). */
  invalid: 6,
  /** The server could not be reached or is unavailable (UNAVAILABLE, DEADLINE_EXCEEDED, network). */
  unavailable: 7,
} as const;

/** A failure of `tessera admin` with the exit code it ends with and the lines it prints. */
export class AdminCliError extends Error {
  override readonly name = "AdminCliError";
  constructor(
    readonly exitCode: number,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

const CODE_EXIT: Partial<Record<Code, number>> = {
  [Code.Unauthenticated]: EXIT.denied,
  [Code.PermissionDenied]: EXIT.denied,
  [Code.NotFound]: EXIT.notFound,
  [Code.AlreadyExists]: EXIT.conflict,
  [Code.Aborted]: EXIT.conflict,
  [Code.FailedPrecondition]: EXIT.conflict,
  [Code.InvalidArgument]: EXIT.invalid,
  [Code.OutOfRange]: EXIT.invalid,
  [Code.Unavailable]: EXIT.unavailable,
  [Code.DeadlineExceeded]: EXIT.unavailable,
};

/** A readable failure for any error of a call: the gRPC code's name, the message, each field violation. */
export function describeFailure(error: unknown): AdminCliError {
  if (error instanceof AdminCliError) return error;
  if (error instanceof ConnectError) {
    const violations = error.findDetails(BadRequestSchema)[0]?.fieldViolations ?? [];
    const codeName = Code[error.code].replace(/[A-Z]/g, (c, i: number) => `${i > 0 ? "_" : ""}${c.toLowerCase()}`);
    // A network failure surfaces as UNAVAILABLE or UNKNOWN with the socket's error as cause.
    const network = error.code === Code.Unknown && error.cause instanceof Error && /ECONNREFUSED|ENOTFOUND|fetch failed/.test(String(error.cause.message));
    return new AdminCliError(
      network ? EXIT.unavailable : (CODE_EXIT[error.code] ?? EXIT.failure),
      `${codeName}: ${error.rawMessage}`,
      // Each violation once: a message that already says it (one violation, whatever the field's
      // spelling, JSON or proto name) is not repeated below it.
      violations.filter((v) => !error.rawMessage.includes(v.description)).map((v) => `${v.field}: ${v.description}`),
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|fetch failed/.test(message)) return new AdminCliError(EXIT.unavailable, `unavailable: ${message}`);
  return new AdminCliError(EXIT.failure, message);
}

/** A cell of a table or a value of a JSON row: typed as the API types it. */
export type Cell = string | number | boolean | null | undefined | Cell[] | { [key: string]: Cell };

/** A table cell's text: lists joined by commas, objects as JSON, absent values empty. */
function cellText(value: Cell): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(cellText).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Rows as JSON (an array of objects, values typed) or as an aligned table of `columns` with a header line. */
export function renderRows(rows: Record<string, Cell>[], columns: string[], format: OutputFormat): string {
  if (format === "json") return `${JSON.stringify(rows, null, 2)}\n`;
  if (rows.length === 0) return "(none)\n";
  const cells = rows.map((row) => columns.map((column) => cellText(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((row) => row[i].length)));
  const line = (texts: string[]) => texts.map((text, i) => text.padEnd(widths[i])).join("  ").trimEnd();
  return `${[line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join("\n")}\n`;
}

/** One object as JSON, or as `key: value` lines for a person to read. */
export function renderObject(object: Record<string, Cell>, format: OutputFormat): string {
  if (format === "json") return `${JSON.stringify(object, null, 2)}\n`;
  const width = Math.max(0, ...Object.keys(object).map((key) => key.length));
  return Object.entries(object)
    .map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${cellText(value)}`.trimEnd())
    .join("\n")
    .concat("\n");
}
