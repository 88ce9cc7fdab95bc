import { SpanKind } from "@opentelemetry/api";
import type { Histogram } from "prom-client";
import {
  StorageConflictError,
  StorageNotFoundError,
  StorageUnavailableError,
  type RealmRepository,
} from "../storage/realm-repository.js";
import { endLeafSpan, startLeafSpan } from "./tracing.js";

/** The `result` label of a failed storage call. */
function resultOf(error: unknown): string {
  if (error instanceof StorageUnavailableError) return "unavailable";
  if (error instanceof StorageConflictError) return "conflict";
  if (error instanceof StorageNotFoundError) return "not_found";
  return "error";
}

/**
 * A {@link RealmRepository} that times every call of the one it wraps into `histogram`, labelled
 * with the method name and the result, and traces it as a `storage {method}` span when tracing is
 * on (`db.operation.name` and the outcome; never an argument). Generic over the port's methods (a Proxy), so a method added
 * to the port is timed without a change here; methods are called on the wrapped object itself.
 */
export function instrumentRepository(repository: RealmRepository, histogram: Histogram<"operation" | "result">): RealmRepository {
  const wrappers = new Map<string, (...args: unknown[]) => unknown>();
  return new Proxy(repository, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string") return value;
      let wrapper = wrappers.get(property);
      if (wrapper === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        wrapper = (...args: unknown[]) => {
          const timer = histogram.startTimer({ operation: property });
          const span = startLeafSpan(`storage ${property}`, { "db.operation.name": property }, SpanKind.CLIENT);
          const end = (result: string) => {
            timer({ result });
            endLeafSpan(span, result === "ok" ? undefined : result);
          };
          let result: unknown;
          try {
            result = method.apply(target, args);
          } catch (error) {
            end(resultOf(error));
            throw error;
          }
          if (!(result instanceof Promise)) {
            end("ok");
            return result;
          }
          return result.then(
            (resolved: unknown) => {
              end("ok");
              return resolved;
            },
            (error: unknown) => {
              end(resultOf(error));
              throw error;
            },
          );
        };
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
