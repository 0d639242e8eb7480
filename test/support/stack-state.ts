// Everything a stack consists of, read back from moto and normalised (ids,
// dates and account-specific strings replaced), so two deploys can be compared
// for "the same final state" and a teardown for "nothing left".
import {
  GetApiKeysCommand,
  GetDeploymentsCommand,
  GetGatewayResponsesCommand,
  GetMethodCommand,
  GetResourcesCommand,
  GetRestApisCommand,
  GetStagesCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
} from "@aws-sdk/client-api-gateway";
import { GetEventSelectorsCommand, GetTrailCommand, GetTrailStatusCommand } from "@aws-sdk/client-cloudtrail";
import { DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { GetRoleCommand, GetRolePolicyCommand, ListRolePoliciesCommand } from "@aws-sdk/client-iam";
import { DescribeKeyCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, ListAliasesCommand, ListKeysCommand, ListResourceTagsCommand } from "@aws-sdk/client-kms";
import { GetFunctionCommand, GetPolicyCommand } from "@aws-sdk/client-lambda";
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
} from "@aws-sdk/client-s3";
import { SIGNING_SECRET_ENV } from "../../config/runtime-env.ts";
import type { AwsClients } from "../../deploy/aws-clients.ts";
import { canonicalPolicy } from "../../deploy/policies/document.ts";
import { STACK_TAG, type ResourceNames } from "../../deploy/names.ts";

async function orUndefined<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch {
    return undefined;
  }
}

/** Every KMS key (not pending deletion) tagged for the stack. */
export async function liveStackKeys(clients: AwsClients, stack: string): Promise<string[]> {
  const keys = (await clients.kms.send(new ListKeysCommand({}))).Keys ?? [];
  const live: string[] = [];
  for (const { KeyId } of keys) {
    const meta = (await clients.kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata;
    if (meta?.KeyState === "PendingDeletion") continue;
    const tags = (await clients.kms.send(new ListResourceTagsCommand({ KeyId }))).Tags ?? [];
    if (tags.some((t) => t.TagKey === STACK_TAG && t.TagValue === stack)) live.push(KeyId!);
  }
  return live;
}

export async function stackState(clients: AwsClients, names: ResourceNames): Promise<Record<string, unknown>> {
  const ids: Array<[string, string]> = [];
  const state: Record<string, unknown> = {};

  // KMS
  const keys = await liveStackKeys(clients, names.stack);
  const aliases = ((await clients.kms.send(new ListAliasesCommand({}))).Aliases ?? []).filter((a) => a.AliasName === names.kmsAlias);
  state.kms = {
    liveKeys: keys.length,
    alias: aliases.map((a) => (a.TargetKeyId && keys.includes(a.TargetKeyId) ? "-> live stack key" : "-> other")),
    rotation: await Promise.all(keys.map(async (KeyId) => (await clients.kms.send(new GetKeyRotationStatusCommand({ KeyId }))).KeyRotationEnabled)),
    policy: await Promise.all(keys.map(async (KeyId) => canonicalPolicy((await clients.kms.send(new GetKeyPolicyCommand({ KeyId, PolicyName: "default" }))).Policy ?? "{}"))),
  };
  for (const k of keys) ids.push([k, "<keyId>"]);

  // IAM role
  const role = await orUndefined(() => clients.iam.send(new GetRoleCommand({ RoleName: names.roleName })));
  if (role) {
    const policyNames = (await clients.iam.send(new ListRolePoliciesCommand({ RoleName: names.roleName }))).PolicyNames ?? [];
    state.role = {
      trust: canonicalPolicy(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? "{}")),
      tags: role.Role?.Tags,
      policies: await Promise.all(
        policyNames.map(async (PolicyName) => ({
          PolicyName,
          doc: canonicalPolicy(decodeURIComponent((await clients.iam.send(new GetRolePolicyCommand({ RoleName: names.roleName, PolicyName }))).PolicyDocument ?? "{}")),
        })),
      ),
    };
  }

  // Buckets
  const buckets = ((await clients.s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name!).filter((n) => n.startsWith(`${names.stack}-`)).sort();
  state.buckets = await Promise.all(
    buckets.map(async (Bucket) => ({
      Bucket,
      publicAccess: (await orUndefined(() => clients.s3.send(new GetPublicAccessBlockCommand({ Bucket }))))?.PublicAccessBlockConfiguration,
      ownership: (await orUndefined(() => clients.s3.send(new GetBucketOwnershipControlsCommand({ Bucket }))))?.OwnershipControls,
      encryption: (await orUndefined(() => clients.s3.send(new GetBucketEncryptionCommand({ Bucket }))))?.ServerSideEncryptionConfiguration,
      policy: canonicalPolicy((await orUndefined(() => clients.s3.send(new GetBucketPolicyCommand({ Bucket }))))?.Policy ?? "{}"),
      lifecycle: (await orUndefined(() => clients.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))))?.Rules,
      lambdaNotifications: (await orUndefined(() => clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }))))?.LambdaFunctionConfigurations ?? [],
    })),
  );

  // Log groups
  state.logGroups = ((await clients.logs.send(new DescribeLogGroupsCommand({}))).logGroups ?? [])
    .filter((g) => g.logGroupName === names.functionLogGroup || g.logGroupName === names.accessLogGroup)
    .map((g) => ({ name: g.logGroupName, retention: g.retentionInDays }));

  // REST API, stage, usage plan, API key
  const apis = ((await clients.apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? []).filter((a) => a.name === names.restApi);
  state.restApis = apis.length;
  for (const api of apis) {
    ids.push([api.id!, "<apiId>"]);
    const resources = (await clients.apigw.send(new GetResourcesCommand({ restApiId: api.id, limit: 500 }))).items ?? [];
    const methods: unknown[] = [];
    for (const r of resources.sort((a, b) => (a.path ?? "").localeCompare(b.path ?? ""))) {
      for (const httpMethod of Object.keys(r.resourceMethods ?? {}).sort()) {
        const m = await clients.apigw.send(new GetMethodCommand({ restApiId: api.id, resourceId: r.id, httpMethod }));
        methods.push({
          path: r.path,
          httpMethod,
          apiKeyRequired: m.apiKeyRequired,
          authorizationType: m.authorizationType,
          integration: m.methodIntegration && { type: m.methodIntegration.type, httpMethod: m.methodIntegration.httpMethod, uri: m.methodIntegration.uri },
        });
      }
    }
    const stages = (await clients.apigw.send(new GetStagesCommand({ restApiId: api.id }))).item ?? [];
    const deployments = (await clients.apigw.send(new GetDeploymentsCommand({ restApiId: api.id }))).items ?? [];
    const responses = (await clients.apigw.send(new GetGatewayResponsesCommand({ restApiId: api.id }))).items ?? [];
    state.api = {
      tags: api.tags,
      methods,
      stages: stages.map((s) => ({
        stageName: s.stageName,
        deployment: deployments.find((d) => d.id === s.deploymentId)?.description,
        accessLog: s.accessLogSettings,
        methodSettings: s.methodSettings,
      })),
      gatewayResponses: responses
        .filter((r) => r.responseType === "DEFAULT_4XX" || r.responseType === "DEFAULT_5XX")
        .map((r) => ({ type: r.responseType, parameters: r.responseParameters }))
        .sort((a, b) => String(a.type).localeCompare(String(b.type))),
    };
  }
  const plans = ((await clients.apigw.send(new GetUsagePlansCommand({ limit: 500 }))).items ?? []).filter((p) => p.name === names.usagePlan);
  const apiKeys = ((await clients.apigw.send(new GetApiKeysCommand({ limit: 500, nameQuery: names.apiKey }))).items ?? []).filter((k) => k.name === names.apiKey);
  for (const k of apiKeys) ids.push([k.id!, "<apiKeyId>"]);
  state.usagePlans = await Promise.all(
    plans.map(async (p) => ({
      throttle: p.throttle,
      quota: p.quota,
      apiStages: p.apiStages,
      keys: ((await clients.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: p.id }))).items ?? []).map((k) => k.name),
    })),
  );
  state.apiKeys = apiKeys.map((k) => ({ enabled: k.enabled, tags: k.tags }));

  // Function and its invoke permission
  const fn = await orUndefined(() => clients.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName })));
  if (fn) {
    const c = fn.Configuration!;
    state.function = {
      Runtime: c.Runtime,
      Handler: c.Handler,
      MemorySize: c.MemorySize,
      Timeout: c.Timeout,
      Architectures: c.Architectures,
      Role: c.Role,
      // The URL-signing secret is random: each deploy from empty makes another.
      // What must hold is that there is one, so it stands as a placeholder.
      Environment: c.Environment?.Variables && {
        ...c.Environment.Variables,
        ...(c.Environment.Variables[SIGNING_SECRET_ENV] ? { [SIGNING_SECRET_ENV]: "<ciphertext>" } : {}),
      },
      CodeSha256: c.CodeSha256,
      tags: fn.Tags,
    };
    const policy = await orUndefined(() => clients.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName })));
    state.permission = policy?.Policy ? canonicalPolicy(policy.Policy) : undefined;
  }

  // Trail
  const trail = await orUndefined(() => clients.cloudtrail.send(new GetTrailCommand({ Name: names.trail })));
  if (trail?.Trail) {
    const t = trail.Trail;
    state.trail = {
      S3BucketName: t.S3BucketName,
      KmsKeyId: t.KmsKeyId,
      LogFileValidationEnabled: t.LogFileValidationEnabled,
      IsMultiRegionTrail: t.IsMultiRegionTrail,
      IncludeGlobalServiceEvents: t.IncludeGlobalServiceEvents,
      logging: (await clients.cloudtrail.send(new GetTrailStatusCommand({ Name: names.trail }))).IsLogging,
      selectors: await orUndefined(async () => {
        const s = await clients.cloudtrail.send(new GetEventSelectorsCommand({ TrailName: names.trail }));
        return { EventSelectors: s.EventSelectors, AdvancedEventSelectors: s.AdvancedEventSelectors };
      }),
    };
  }

  let text = JSON.stringify(state);
  for (const [id, placeholder] of ids) text = text.split(id).join(placeholder);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Object versions and delete markers in a bucket (to prove data survived). */
export async function objectCount(clients: AwsClients, Bucket: string): Promise<number> {
  const got = await clients.s3.send(new ListObjectVersionsCommand({ Bucket }));
  return (got.Versions?.length ?? 0) + (got.DeleteMarkers?.length ?? 0);
}
