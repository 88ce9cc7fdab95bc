import {
  MongoBulkWriteError,
  MongoClientClosedError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from "mongodb";
import { StorageConflictError, StorageUnavailableError } from "../realm-repository.js";

/** Server error codes that mean "no usable server right now" (shutdown, step-down, network). */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);

/**
 * Node socket errors the driver lets through unwrapped: a command written on a connection the server has just
 * closed fails with a plain `EPIPE` error ("This socket has been ended by the other party"), not a MongoNetworkError.
 */
const SOCKET_ERROR_CODES = new Set(["EPIPE", "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "ETIMEDOUT"]);

/** The messages of FerretDB's SQLite and PostgreSQL backends for a unique index violation. */
const FERRETDB_UNIQUE_VIOLATION = /UNIQUE constraint failed|duplicate key value violates unique constraint/;

/**
 * A write refused by a unique index. FerretDB 1.24 answers 11000 to inserts, but an update or replace that
 * violates a unique index fails with code 1 (`InternalError`) quoting its backend's message.
 */
export function isDuplicateKey(error: unknown): boolean {
  if (!(error instanceof MongoServerError)) return false;
  if (error.code === 11000) return true;
  return error.code === 1 && FERRETDB_UNIQUE_VIOLATION.test(error.message);
}

/**
 * A driver error that means no server can be reached now (the port's {@link StorageUnavailableError}).
 * `insertMany` and `bulkWrite` wrap a network or server-selection failure in a {@link MongoBulkWriteError}
 * (a MongoServerError without a code) whose `errorResponse` is the driver's error: that one decides.
 */
export function isUnavailable(error: unknown): error is Error {
  if (error instanceof MongoBulkWriteError && error.errorResponse instanceof Error) return isUnavailable(error.errorResponse);
  return (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoOperationTimeoutError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoClientClosedError ||
    error instanceof MongoServerClosedError ||
    (error instanceof Error && "code" in error && SOCKET_ERROR_CODES.has(String(error.code))) ||
    (error instanceof MongoServerError && typeof error.code === "number" && UNAVAILABLE_CODES.has(error.code))
  );
}

/** Runs driver calls of one deployment and translates their errors into the port's. */
export class MongoCalls {
  /** @param hosts - `host:port[,host:port]` of the deployment, named in errors (never credentials). */
  constructor(private readonly hosts: string) {}

  /** Runs a driver call; a duplicate key becomes {@link StorageConflictError} with `conflictMessage`. */
  async call<T>(operation: () => Promise<T>, conflictMessage?: string): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw this.translate(error, conflictMessage);
    }
  }

  /** Runs an insert into a unique index: true when it went in, false on a duplicate key. */
  async insertFirst(insert: () => Promise<unknown>): Promise<boolean> {
    try {
      await insert();
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw this.translate(error);
    }
  }

  /** The port's error for a driver error: conflict, unavailable, or the error itself. */
  translate(error: unknown, conflictMessage = "duplicate key"): unknown {
    if (isDuplicateKey(error)) return new StorageConflictError(conflictMessage, { cause: error });
    if (isUnavailable(error)) {
      const message = `MongoDB at ${this.hosts} is unavailable: ${error.message}`;
      return new StorageUnavailableError(message, { cause: error });
    }
    return error;
  }
}
