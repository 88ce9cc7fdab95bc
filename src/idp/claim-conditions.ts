import { celEnv, parse, plan } from "@bufbuild/cel";
import type { ClaimCondition } from "../domain/index.js";

/** A CEL expression compiled once and run on the claims of each token. */
type CompiledCondition = (claims: Record<string, unknown>) => boolean;

const compiled = new Map<string, CompiledCondition>();

/** The problem with a condition's syntax, or undefined when it parses. Never echoes the expression. */
export function conditionSyntaxProblem(expression: string): string | undefined {
  try {
    parse(expression);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const where = /<input>:(\d+):(\d+)/.exec(message);
    return `expected a CEL expression${where ? `; syntax error at line ${where[1]}, column ${where[2]}` : ""}`;
  }
}

/** JSON claims as CEL values: objects become maps, numbers stay numbers (CEL doubles). */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toCel(v)]));
  }
  return value;
}

function compile(expression: string): CompiledCondition {
  let condition = compiled.get(expression);
  if (!condition) {
    const program = plan(celEnv(), parse(expression));
    condition = (claims) => {
      const bindings: Record<string, unknown> = { claims: toCel(claims) };
      for (const [name, value] of Object.entries(claims)) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) bindings[name] = toCel(value);
      // A condition holds only when it evaluates to true: false, an error or a missing claim refuse.
      return program(bindings as Parameters<typeof program>[0]) === true;
    };
    compiled.set(expression, condition);
  }
  return condition;
}

/**
 * The name of the first condition the claims do not meet, or undefined when all hold. Each
 * top-level claim is a CEL variable (`repository == 'acme/api'`), and `claims` is the map of all.
 */
export function failedCondition(conditions: readonly ClaimCondition[], claims: Record<string, unknown>): string | undefined {
  return conditions.find((condition) => !compile(condition.expression)(claims))?.name;
}
