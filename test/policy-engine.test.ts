// The stack's policy documents (deploy/policies, deploy/deployer-policy*.json)
// evaluated by a real IAM policy engine (test/support/policy-eval.ts) in the
// requests AWS documents, in every partition; every action and resource
// checked against the Service Authorization Reference. The same scenarios run
// against what a deploy leaves in moto in policy-moto.test.ts.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { functionBoundaryPolicy, lambdaTrustPolicy } from "../deploy/policies/function-role.ts";
import { catalogFindings } from "./support/policy-catalog.ts";
import { DEPLOYER_DENIED } from "./support/policy-deployer-scenarios.ts";
import { ALL_SCENARIOS, failures } from "./support/policy-run.ts";
import { DEPLOYER_POLICY_FILES, documentPolicies, renderDeployerPolicy, scopeOf } from "./support/policy-stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PARTITIONS = [
  { partition: "aws", region: "eu-west-1" },
  { partition: "aws-cn", region: "cn-north-1" },
  { partition: "aws-us-gov", region: "us-gov-west-1" },
];

describe("every documented request gets the answer it must, in every partition", () => {
  for (const where of PARTITIONS) {
    test(`${where.partition} (${where.region}): ${ALL_SCENARIOS.length} scenarios`, async () => {
      const policies = documentPolicies(scopeOf("imgapi-dev", where));
      assert.deepEqual(await failures(policies), []);
    });
  }

  test("two stacks in one account: each stack's deployer is refused the other's resources", async () => {
    // The same "other stack" scenarios, from the point of view of a stack whose name prefixes the other's.
    const policies = documentPolicies(scopeOf("other"));
    assert.deepEqual(await failures(policies, DEPLOYER_DENIED), []);
  });

  test("every scenario names the AWS page it comes from", () => {
    for (const s of ALL_SCENARIOS) assert.match(s.source, /^https:\/\/docs\.aws\.amazon\.com\//, s.name);
    assert.equal(new Set(ALL_SCENARIOS.map((s) => s.name)).size, ALL_SCENARIOS.length, "scenario names are unique");
  });
});

describe("the Service Authorization Reference", () => {
  test("every action of every document exists and every resource ARN matches a resource type of its statement's actions", async () => {
    const policies = documentPolicies(scopeOf("imgapi-dev"));
    const { docs } = policies;
    const documents = {
      "images key policy": docs.imagesKey,
      "audit key policy": docs.auditKey,
      "images bucket policy": docs.imagesBucket,
      "trail bucket policy": docs.trailBucket,
      "function role policy": docs.role,
      "function boundary": docs.boundary,
      "function trust policy": lambdaTrustPolicy(),
      "function invoke policy": docs.invoke,
      ...Object.fromEntries(DEPLOYER_POLICY_FILES.map((f, i) => [f, docs.deployer[i]!])),
    };
    const findings = (await Promise.all(Object.entries(documents).map(([label, doc]) => catalogFindings(label, doc)))).flat();
    assert.deepEqual(findings, []);
  });

  test("the check catches an action that does not exist, a wildcard-only action given an ARN, and an ARN of the wrong type", async () => {
    const findings = await catalogFindings("broken", {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: "kms:DecryptEverything", Resource: "*" },
        { Effect: "Allow", Action: ["logs:CreateLogDelivery", "logs:DescribeLogGroups"], Resource: "arn:aws:logs:*:111122223333:log-group:/x" },
        { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:lambda:eu-west-1:111122223333:function:f" },
      ],
    });
    assert.equal(findings.length, 7, findings.join("\n"));
    assert.match(findings.join("\n"), /kms:DecryptEverything names no action/);
    assert.match(findings.join("\n"), /logs:CreateLogDelivery applies to none/);
    assert.match(findings.join("\n"), /s3:ListBucket applies to none/);
  });
});

describe("the deployer policy files", () => {
  test("each fits IAM's 6,144-character managed policy limit with the longest stack name, in every partition", () => {
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length
    for (const where of PARTITIONS) {
      const ctx = scopeOf("a".repeat(24), { ...where, account: "123456789012" });
      for (const file of DEPLOYER_POLICY_FILES) {
        const size = JSON.stringify(renderDeployerPolicy(file, ctx)).length;
        assert.ok(size <= 6144, `${file} is ${size} characters in ${where.partition}`);
      }
    }
  });

  // Upper-case words that are values, not placeholders: API Gateway's HTTP methods, Route 53's record types and change actions.
  test("only the three placeholders README names are left to fill", () => {
    for (const file of DEPLOYER_POLICY_FILES) {
      const words = new Set(readFileSync(join(ROOT, file), "utf8").replace(/"apigateway:[A-Z]+"/g, "").replace(/"(CNAME|AAAA|UPSERT|DELETE)"/g, "").match(/\b[A-Z][A-Z_]{3,}\b/g));
      assert.deepEqual([...words].sort(), ["ACCOUNT_ID", "PARTITION", "STACK"], file);
    }
  });
});

describe("partitions and packaging", () => {
  test("no policy module spells a service endpoint or principal suffix itself (deploy/arns.ts does, per partition)", () => {
    const dir = join(ROOT, "deploy/policies");
    for (const file of readdirSync(dir)) assert.doesNotMatch(readFileSync(join(dir, file), "utf8"), /amazonaws\.com/, file);
    assert.match(JSON.stringify(functionBoundaryPolicy(scopeOf("x", { partition: "aws-cn", region: "cn-north-1" }))), /s3\.cn-north-1\.amazonaws\.com\.cn/);
  });

  test("the policy engine (AGPL, test-only) is imported by no shipped code", () => {
    const shipped = ["function", "deploy", "teardown", "config", "local"];
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.[cm]?[jt]s$/.test(entry.name) && readFileSync(join(ROOT, path), "utf8").includes("@cloud-copilot/")) offenders.push(path);
      }
    };
    shipped.forEach(walk);
    assert.deepEqual(offenders, []);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(pkg.dependencies).filter((d) => d.startsWith("@cloud-copilot/")), []);
  });
});
