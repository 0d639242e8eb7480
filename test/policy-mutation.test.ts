// Mutation test of the policies: removing any one statement of the key
// policies, the bucket policies, the deployer's policies, the function's role
// policy or its boundary must change the answer of at least one documented
// scenario. A statement no scenario needs is either dead weight (a grant
// nobody uses, which least privilege forbids) or a scenario is missing.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PolicyDocument } from "../deploy/policies/document.ts";
import { evaluate } from "./support/policy-eval.ts";
import { ALL_SCENARIOS, wrong } from "./support/policy-run.ts";
import type { Scenario } from "./support/policy-scenarios.ts";
import { DEPLOYER_POLICY_FILES, documentPolicies, scopeOf, type StackDocuments, type StackPolicies } from "./support/policy-stack.ts";

const MUTATED: Array<keyof StackDocuments> = ["imagesKey", "auditKey", "imagesBucket", "trailBucket", "deployer", "role", "boundary"];

const without = (doc: PolicyDocument, index: number): PolicyDocument => ({ ...doc, Statement: doc.Statement.filter((_, i) => i !== index) });

/** The first scenario whose answer changes, or undefined. */
async function caughtBy(policies: StackPolicies, scenarios: Scenario[]): Promise<string | undefined> {
  for (const s of scenarios) {
    const got = await evaluate(s.request(policies));
    if (wrong(s, got)) return `${s.name} (${got}, expected ${s.expect})`;
  }
  return undefined;
}

/** Every single-statement removal, labelled by document and Sid. */
function* mutations(base: StackPolicies): Generator<{ label: string; policies: StackPolicies }> {
  for (const kind of MUTATED) {
    const docs = kind === "deployer" ? base.docs.deployer : [base.docs[kind]];
    for (const [d, doc] of docs.entries()) {
      for (const [i, statement] of doc.Statement.entries()) {
        const label = `${kind === "deployer" ? DEPLOYER_POLICY_FILES[d] : kind} / ${statement.Sid ?? `#${i}`}`;
        const mutated = kind === "deployer" ? base.docs.deployer.map((x, j) => (j === d ? without(x, i) : x)) : without(doc, i);
        yield { label, policies: { ...base, docs: { ...base.docs, [kind]: mutated } } };
      }
    }
  }
}

test("removing any one statement makes at least one documented scenario fail", async () => {
  const base = documentPolicies(scopeOf("imgapi-dev"));
  const lines: string[] = [];
  const uncaught: string[] = [];
  for (const { label, policies } of mutations(base)) {
    const by = await caughtBy(policies, ALL_SCENARIOS);
    lines.push(`  - ${label}: ${by ?? "NOT CAUGHT"}`);
    if (by === undefined) uncaught.push(label);
  }
  console.log(`policy-mutation: ${lines.length} statements removed one at a time, ${lines.length - uncaught.length} caught:\n${lines.join("\n")}`);
  assert.deepEqual(uncaught, [], "statements no scenario needs");
});
