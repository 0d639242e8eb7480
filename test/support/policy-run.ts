// Every scenario, and the run that compares each with the answer it must get.
import { DEPLOYER_ALLOWED, DEPLOYER_DENIED } from "./policy-deployer-scenarios.ts";
import { evaluate } from "./policy-eval.ts";
import { FUNCTION_SCENARIOS, INVOKE_SCENARIOS, SERVICE_SCENARIOS, type Scenario } from "./policy-scenarios.ts";
import type { StackPolicies } from "./policy-stack.ts";

export const ALL_SCENARIOS: Scenario[] = [...SERVICE_SCENARIOS, ...FUNCTION_SCENARIOS, ...INVOKE_SCENARIOS, ...DEPLOYER_ALLOWED, ...DEPLOYER_DENIED];

/** The answer differs from the expected one ("Deny" accepts either denial). */
export const wrong = (s: Scenario, got: string) => (s.expect === "Deny" ? got === "Allow" : got !== s.expect);

/** Each scenario whose answer differs, as "name: got X, expected Y (source)". */
export async function failures(policies: StackPolicies, scenarios: Scenario[] = ALL_SCENARIOS): Promise<string[]> {
  const out: string[] = [];
  for (const s of scenarios) {
    const got = await evaluate(s.request(policies));
    if (wrong(s, got)) out.push(`${s.name}: ${got}, expected ${s.expect} (${s.source})`);
  }
  return out;
}
