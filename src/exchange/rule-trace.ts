import { createHash } from "node:crypto";
import { OAuthError } from "./errors.js";

/** One rule of the exchange as it decided: what it looked at and whether it let the request through. */
export interface RuleStep {
  /** A short name, e.g. `audience`. */
  name: string;
  /** The RFC or contract section the rule comes from, e.g. `RFC 8693 §2.1`. */
  reference: string;
  /** What the rule looked at: claims, token fingerprints, parameters; never a whole token or secret. */
  inputs: Record<string, unknown>;
  passed: boolean;
  /** For a failed rule, `code: description` of the OAuth error it raised. */
  detail?: string;
}

/** A rule as the grant names it before running it. */
export type RuleSpec = Omit<RuleStep, "passed" | "detail">;

/**
 * Records the decisions of one exchange in order (ExplainExchange). A rule that throws an
 * {@link OAuthError} is recorded as failed and the error rethrown, so the first failed rule is the
 * error the real call returns.
 */
export class RuleTrace {
  readonly steps: RuleStep[] = [];

  /** Runs `rule`, recording it as passed when it returns and as failed when it refuses. */
  async check<T>(spec: RuleSpec, rule: () => T | Promise<T>): Promise<T> {
    try {
      const result = await rule();
      this.steps.push({ ...spec, passed: true });
      return result;
    } catch (error) {
      if (error instanceof OAuthError) this.steps.push({ ...spec, passed: false, detail: `${error.code}: ${error.description}` });
      throw error;
    }
  }
}

/** Runs `rule` under `trace` when there is one (explain), else runs it as it is (the real exchange). */
export function checkRule<T>(trace: RuleTrace | undefined, spec: RuleSpec, rule: () => T | Promise<T>): Promise<T> {
  return trace ? trace.check(spec, rule) : Promise.resolve().then(rule);
}

/** A token as a trace may show it: the first 16 characters of its SHA-256 (base64url), never the token. */
export function tokenFingerprint(token: string | undefined): string | undefined {
  return token ? `sha256:${createHash("sha256").update(token).digest("base64url").slice(0, 16)}` : undefined;
}
