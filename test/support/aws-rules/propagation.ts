// Eventual consistency of IAM and KMS, which moto does not model: a role or
// key made a moment ago is not yet visible to the service that uses it. Each
// rule refuses the first N calls after the create, with AWS's own answer.
import { GetRoleCommand } from "@aws-sdk/client-iam";
import { jsonError, restJsonError } from "../aws-errors.ts";
import { Countdown, iamCall, jsonBody, lambdaOps, ok, roleNameOf, type AwsRule } from "./kit.ts";

export const ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda.";
export const INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals.";
export const keyNotFound = (keyArn: string) => `Key '${keyArn}' does not exist`;

/**
 * IAM roles propagate in seconds: Lambda refuses a role created (or whose trust
 * policy was changed) moments ago. CreateFunction / UpdateFunctionConfiguration
 * naming it get InvalidParameterValueException "The role defined for the
 * function cannot be assumed by Lambda." for the first `refusals` calls.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
 * (message as terraform-provider-aws and aws-controllers-k8s/lambda-controller#103 retry it)
 */
export function lambdaRolePropagation({ refusals = 2 } = {}): AwsRule {
  const name = "iam-role-propagation-lambda";
  return {
    name,
    source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency",
    install({ proxy }) {
      const fresh = new Countdown();
      proxy.observe({
        name,
        match: { service: "iam", operation: /^(CreateRole|UpdateAssumeRolePolicy)$/ },
        seen: (req, answer) => {
          const role = iamCall(req).params.get("RoleName");
          if (ok(answer.status) && role) fresh.arm(role, refusals);
        },
      });
      proxy.inject({
        name,
        match: lambdaOps("CreateFunction", "UpdateFunctionConfiguration"),
        fault: (req) => (fresh.take(roleNameOf(jsonBody(req).Role) ?? "") ? restJsonError(400, "InvalidParameterValueException", ROLE_NOT_ASSUMABLE) : undefined),
        times: Infinity,
      });
    },
  };
}

/** Role ARNs among a key policy's AWS principals. */
function principalRoles(policy: unknown): string[] {
  try {
    const doc = JSON.parse(String(policy)) as { Statement?: Array<{ Principal?: { AWS?: string | string[] } | string }> };
    const statements = Array.isArray(doc.Statement) ? doc.Statement : [];
    return statements.flatMap((s) => (typeof s.Principal === "object" ? [s.Principal.AWS ?? []].flat() : [])).filter((p) => roleNameOf(p) !== undefined);
  } catch {
    return [];
  }
}

/**
 * "The principals in the key policy must exist and be visible to KMS. When you
 * create a new AWS principal, you might need to enforce a delay before
 * including [it] in a key policy." CreateKey / PutKeyPolicy naming a role that
 * does not exist are always refused; naming one created moments ago, for the
 * first `refusals` calls: MalformedPolicyDocumentException "Policy contains a
 * statement with one or more invalid principals."
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html (Policy)
 */
export function kmsPrincipalPropagation({ refusals = 2 } = {}): AwsRule {
  const name = "iam-role-propagation-kms";
  return {
    name,
    source: "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html",
    install({ proxy, upstream }) {
      const fresh = new Countdown();
      proxy.observe({
        name,
        match: { service: "iam", operation: "CreateRole" },
        seen: (req, answer) => {
          const role = iamCall(req).params.get("RoleName");
          if (ok(answer.status) && role) fresh.arm(role, refusals);
        },
      });
      const exists = async (role: string) => {
        try {
          await upstream.iam.send(new GetRoleCommand({ RoleName: role }));
          return true;
        } catch {
          return false;
        }
      };
      proxy.inject({
        name,
        match: { service: "kms", operation: /^(CreateKey|PutKeyPolicy)$/ },
        fault: async (req) => {
          const roles = [...new Set(principalRoles(jsonBody(req).Policy).map((arn) => roleNameOf(arn)!))];
          const refused = roles.filter((role) => fresh.armed(role));
          for (const role of refused) fresh.take(role);
          const missing = (await Promise.all(roles.map(exists))).includes(false);
          return refused.length > 0 || missing ? jsonError(400, "MalformedPolicyDocumentException", INVALID_PRINCIPALS) : undefined;
        },
        times: Infinity,
      });
    },
  };
}

const KEY_FIELDS = ["KeyId", "TargetKeyId"] as const;

/**
 * "The AWS KMS API follows an eventual consistency model ... you might get
 * unexpected errors, such as a NotFoundException or an InvalidStateException"
 * right after CreateKey: the first `refusals` calls naming the new key
 * (CreateAlias, EnableKeyRotation, Encrypt, DescribeKey, ListResourceTags...)
 * get NotFoundException "Key 'arn:...' does not exist" (the text
 * terraform-provider-aws#1896 retries on CreateAlias).
 * https://docs.aws.amazon.com/kms/latest/developerguide/programming-eventual-consistency.html
 */
export function kmsKeyPropagation({ refusals = 2 } = {}): AwsRule {
  const name = "kms-key-propagation";
  return {
    name,
    source: "https://docs.aws.amazon.com/kms/latest/developerguide/programming-eventual-consistency.html",
    install({ proxy, region, account, partition }) {
      const fresh = new Countdown();
      proxy.observe({
        name,
        match: { service: "kms", operation: "CreateKey" },
        seen: (_req, answer) => {
          const keyId = (jsonBody(answer).KeyMetadata as { KeyId?: string } | undefined)?.KeyId;
          if (ok(answer.status) && keyId) fresh.arm(keyId, refusals);
        },
      });
      proxy.inject({
        name,
        match: { service: "kms", operation: /^(?!CreateKey$|ListKeys$|ListAliases$)/ },
        fault: (req) => {
          const body = jsonBody(req);
          for (const field of KEY_FIELDS) {
            const keyId = String(body[field] ?? "").split("/").pop() ?? "";
            if (fresh.take(keyId)) return jsonError(400, "NotFoundException", keyNotFound(`arn:${partition}:kms:${region}:${account}:key/${keyId}`));
          }
          return undefined;
        },
        times: Infinity,
      });
    },
  };
}

