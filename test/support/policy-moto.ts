// A deploy's policies as moto holds them afterwards, read back the way an
// auditor would (GetKeyPolicy, GetBucketPolicy, GetRolePolicy and the role's
// boundary, Lambda's GetPolicy), and every AWS call the run made, recorded.
import { GetApiKeysCommand, GetRestApisCommand, GetUsagePlansCommand } from "@aws-sdk/client-api-gateway";
import { GetPolicyCommand as GetIamPolicyCommand, GetPolicyVersionCommand, GetRoleCommand, GetRolePolicyCommand } from "@aws-sdk/client-iam";
import { GetKeyPolicyCommand, ListAliasesCommand, ListKeysCommand, ListResourceTagsCommand } from "@aws-sdk/client-kms";
import { GetPolicyCommand } from "@aws-sdk/client-lambda";
import { GetBucketPolicyCommand } from "@aws-sdk/client-s3";
import { auditKeyAlias } from "../../deploy/arns.ts";
import { createClients, type AwsClients } from "../../deploy/aws-clients.ts";
import type { PolicyDocument } from "../../deploy/policies/document.ts";
import { lambdaRolePolicyName } from "../../deploy/resources/lambda-role.ts";
import type { Call, Inventory } from "./policy-calls.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, type Moto } from "./moto.ts";
import { deployerPolicies, scopeOf, type StackPolicies } from "./policy-stack.ts";

export const MOTO_ACCOUNT = "123456789012";
const EMPTY: PolicyDocument = { Version: "2012-10-17", Statement: [] };

/** Clients whose every command is recorded, with the HTTP request API Gateway's commands became (its IAM actions are HTTP methods on paths). */
export function recordingClients(moto: Moto, calls: Call[]): AwsClients {
  const byInput = new WeakMap<object, Call>();
  const clients = createClients({
    region: MOTO_REGION,
    endpoint: moto.endpoint,
    credentials: MOTO_CREDENTIALS,
    observer: (service, command, input) => {
      const call: Call = { service, command: command.replace(/Command$/, ""), input: (input ?? {}) as Record<string, unknown> };
      calls.push(call);
      if (typeof input === "object" && input !== null) byInput.set(input, call);
    },
  });
  type Args = { input: object; request?: { method?: string; path?: string } };
  const middleware = (next: (args: Args) => Promise<unknown>) => async (args: Args) => {
    const call = byInput.get(args.input);
    if (call !== undefined && args.request?.method !== undefined) call.http = { method: args.request.method, path: args.request.path ?? "/" };
    return next(args);
  };
  (clients.apigw.middlewareStack as unknown as { add(m: typeof middleware, o: { step: string; name: string }): void }).add(middleware, { step: "build", name: "policyHttpPath" });
  return clients;
}

const parse = (text: string | undefined): PolicyDocument => JSON.parse(decodeURIComponent(text ?? "")) as PolicyDocument;

/** What an error of a read means: the piece is not there. */
async function orMissing<T>(missing: string[], what: string, read: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    const got = await read();
    if (got === undefined) missing.push(what);
    return got;
  } catch (e) {
    missing.push(`${what} (${(e as Error).name})`);
    return undefined;
  }
}

/** The tags, aliases and key policies moto holds, for the recorded calls' context. */
async function inventory(clients: AwsClients): Promise<Inventory> {
  const tags = new Map<string, Record<string, string>>();
  const keyPolicies = new Map<string, PolicyDocument>();
  for (const { KeyId } of (await clients.kms.send(new ListKeysCommand({}))).Keys ?? []) {
    const got = (await clients.kms.send(new ListResourceTagsCommand({ KeyId }))).Tags ?? [];
    tags.set(KeyId!, Object.fromEntries(got.map((t) => [t.TagKey!, t.TagValue!])));
    keyPolicies.set(KeyId!, JSON.parse((await clients.kms.send(new GetKeyPolicyCommand({ KeyId, PolicyName: "default" }))).Policy ?? "{}") as PolicyDocument);
  }
  for (const a of (await clients.apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? []) tags.set(a.id!, a.tags ?? {});
  for (const u of (await clients.apigw.send(new GetUsagePlansCommand({ limit: 500 }))).items ?? []) tags.set(u.id!, u.tags ?? {});
  for (const k of (await clients.apigw.send(new GetApiKeysCommand({ limit: 500 }))).items ?? []) tags.set(k.id!, k.tags ?? {});
  const aliases = new Map(((await clients.kms.send(new ListAliasesCommand({}))).Aliases ?? []).map((a) => [a.AliasName!, a.TargetKeyId!]));
  return { tags, aliases, keyPolicies };
}

/** The stack's policies read back from moto; `missing` lists every piece the deploy did not make. */
export async function readBack(clients: AwsClients, stack: string, restApiId: string): Promise<{ policies: StackPolicies; inventory: Inventory; missing: string[] }> {
  const ctx = scopeOf(stack, { region: MOTO_REGION, account: MOTO_ACCOUNT });
  const { names } = ctx;
  const missing: string[] = [];
  const inv = await inventory(clients);
  const keyOf = (alias: string) => orMissing(missing, `KMS key ${alias}`, async () => inv.aliases.get(alias));
  const imagesKey = await keyOf(names.kmsAlias);
  const auditKey = await keyOf(auditKeyAlias(ctx));
  const bucket = (Bucket: string) => orMissing(missing, `bucket policy of ${Bucket}`, async () => parse((await clients.s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy));
  const role = await orMissing(missing, `inline policy of ${names.roleName}`, async () =>
    parse((await clients.iam.send(new GetRolePolicyCommand({ RoleName: names.roleName, PolicyName: lambdaRolePolicyName(ctx) }))).PolicyDocument),
  );
  const boundaryArn = await orMissing(missing, `permissions boundary of ${names.roleName}`, async () => (await clients.iam.send(new GetRoleCommand({ RoleName: names.roleName }))).Role?.PermissionsBoundary?.PermissionsBoundaryArn);
  const boundary = boundaryArn === undefined ? undefined : await orMissing(missing, `boundary policy ${boundaryArn}`, async () => {
    const version = (await clients.iam.send(new GetIamPolicyCommand({ PolicyArn: boundaryArn }))).Policy?.DefaultVersionId;
    return parse((await clients.iam.send(new GetPolicyVersionCommand({ PolicyArn: boundaryArn, VersionId: version }))).PolicyVersion?.Document);
  });
  const invoke = await orMissing(missing, `resource policy of ${names.functionName}`, async () => parse((await clients.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName }))).Policy));
  const keyArn = (id: string | undefined) => `arn:aws:kms:${MOTO_REGION}:${MOTO_ACCOUNT}:key/${id ?? "missing"}`;
  const policies: StackPolicies = {
    ctx,
    imagesKeyArn: keyArn(imagesKey),
    auditKeyArn: keyArn(auditKey),
    restApiId,
    docs: {
      imagesKey: inv.keyPolicies.get(imagesKey ?? "") ?? EMPTY,
      auditKey: inv.keyPolicies.get(auditKey ?? "") ?? EMPTY,
      imagesBucket: (await bucket(names.imagesBucket)) ?? EMPTY,
      trailBucket: (await bucket(names.trailBucket)) ?? EMPTY,
      deployer: deployerPolicies(ctx),
      role: role ?? EMPTY,
      boundary: boundary ?? EMPTY,
      invoke: invoke ?? EMPTY,
    },
  };
  return { policies, inventory: { ...inv, ...(boundaryArn ? { roleBoundary: boundaryArn } : {}) }, missing };
}
