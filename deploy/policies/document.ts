// IAM policy documents as deploy writes them, and the comparison that decides
// whether one read back from AWS already says the same thing.
type Values = string | string[];
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | Record<string, Values>;
  Action: Values;
  Resource?: Values;
  Condition?: Record<string, Record<string, Values>>;
}
export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

const sortedList = (v: unknown): string[] => [...new Set((Array.isArray(v) ? v : [v]).map(String))].sort();
const sortedKeys = <T>(o: Record<string, T>, f: (v: T) => unknown) =>
  Object.fromEntries(Object.keys(o).sort().map((k) => [k, f(o[k] as T)]));

/**
 * A policy in a canonical form, so documents that mean the same compare equal:
 * AWS hands policies back re-serialized (IAM URL-encodes them, a one-element
 * list may come back as a string, order is not kept), so text comparison would
 * report drift on every run.
 */
export function canonicalPolicy(policy: string | object): string {
  const doc = (typeof policy === "string" ? JSON.parse(policy) : policy) as { Version?: string; Statement?: unknown };
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Record<string, unknown>[];
  const canonical = statements.map((s) => {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(s).sort()) {
      const value = s[key];
      if (key === "Principal" || key === "NotPrincipal") {
        out[key] = value === "*" ? { AWS: ["*"] } : sortedKeys(value as Record<string, unknown>, sortedList);
      } else if (key === "Condition") {
        out[key] = sortedKeys(value as Record<string, Record<string, unknown>>, (c) => sortedKeys(c, sortedList));
      } else if (["Action", "NotAction", "Resource", "NotResource"].includes(key)) {
        out[key] = sortedList(value);
      } else {
        out[key] = value;
      }
    }
    return JSON.stringify(out);
  });
  return JSON.stringify({ Version: doc.Version, Statement: canonical.sort() });
}

export function samePolicy(actual: string | object | undefined, desired: object): boolean {
  if (actual === undefined) return false;
  try {
    return canonicalPolicy(actual) === canonicalPolicy(desired);
  } catch {
    return false; // not JSON: rewrite it
  }
}
