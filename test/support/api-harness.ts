// What the deploy-api tests share: moto, clients whose every command is
// recorded (and that a test can stop before or after the n-th mutating one,
// as a crash would), the modules the API depends on made with the SDK (the
// function's role, a KMS key, both log groups), and the API's modules run in
// the orchestrator's order.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { after, before } from "node:test";
import { APIGatewayClient } from "@aws-sdk/client-api-gateway";
import { CloudWatchLogsClient, CreateLogGroupCommand, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { WAFV2Client } from "@aws-sdk/client-wafv2";
import { zipSync } from "fflate";
import { parseConfig } from "../../config/load.ts";
import type { Config } from "../../config/schema.ts";
import { createClients, destroyClients, isReadOnly, type AwsClients } from "../../deploy/aws-clients.ts";
import type { DeployContext, StepReport } from "../../deploy/context.ts";
import type { FunctionZip } from "../../deploy/function-zip.ts";
import { resourceNames, stackTags, type ResourceNames } from "../../deploy/names.ts";
import { ensureApiGatewayAccount } from "../../deploy/resources/api-gateway-account.ts";
import { ensureLambdaFunction } from "../../deploy/resources/lambda-function.ts";
import { ensureLambdaPermission } from "../../deploy/resources/lambda-permission.ts";
import { ensureRestApi } from "../../deploy/resources/rest-api.ts";
import { ensureUsagePlan } from "../../deploy/resources/usage-plan.ts";
import { virtualClock } from "./clock.ts";
import { clientConfig, MOTO_CREDENTIALS, startMoto, type Moto } from "./moto.ts";

export const ACCOUNT = "123456789012"; // moto's
export const REGION = "us-east-1";
export const config = parseConfig(JSON.parse(readFileSync(new URL("../../config.example.json", import.meta.url), "utf8")));
export const names = resourceNames(config.stackName, ACCOUNT, REGION);
/** A tag beyond the stack's own, to see ctx.tags (not just stackTags) applied. */
export const tagsOf = (stack: string) => ({ ...stackTags(stack), team: "images" });
export const TAGS = tagsOf(config.stackName);
export const withConfig = (patch: (c: Config) => Config) => patch(structuredClone(config));

/** A small deterministic zip: these tests deploy code, function-zip.test.ts builds it. */
export function testZip(body: string): FunctionZip {
  const bytes = zipSync({ "index.mjs": new TextEncoder().encode(body) }, { mtime: new Date(1980, 0, 1) });
  return { bytes, sha256Base64: createHash("sha256").update(bytes).digest("base64"), path: "(memory)", size: bytes.length, architecture: "arm64" };
}
export const ZIP = testZip("export const handler = async () => ({ statusCode: 200, body: 'v1' });");
/** What signing-secret.ts would hand the function module (made with KMS there). */
export const SECRET_CIPHERTEXT = Buffer.from("a KMS ciphertext stands here").toString("base64");

export class Interrupted extends Error {
  override readonly name = "Interrupted";
}

export interface Prerequisites {
  roleArn: string;
  keyArn: string;
  accessLogGroupArn: string;
}

export interface ApiHarness {
  moto: Moto;
  clients: AwsClients;
  /** Straight to moto, not recorded. */
  aws: { iam: IAMClient; kms: KMSClient; logs: CloudWatchLogsClient; lambda: LambdaClient; apigw: APIGatewayClient; wafv2: WAFV2Client };
  sent: { service: string; command: string; input: Record<string, unknown> }[];
  /** The mutating commands sent since `sent` was last emptied, without "Command". */
  mutating(): string[];
  inputsOf(command: string): Record<string, unknown>[];
  /** Stops the run before or after the n-th mutating command (1-based) counted from `resetCount`. */
  interrupt?: { at: number; when: "before" | "after" };
  mutationsSoFar: number;
  context(opts?: { dryRun?: boolean; config?: Config }): DeployContext;
  prerequisites(names?: ResourceNames): Promise<Prerequisites>;
  /** Runs an ensure and returns its report with the mutating commands it sent. */
  run<R extends StepReport>(ensure: () => Promise<R>): Promise<{ report: R; mutations: string[] }>;
  deployApi(ctx: DeployContext, prereq: Prerequisites, zip?: FunctionZip): ReturnType<typeof deployApiWith>;
}

async function deployApiWith(ctx: DeployContext, prereq: Prerequisites, zip: FunctionZip) {
  const fn = await ensureLambdaFunction(ctx, { roleArn: prereq.roleArn, keyArn: prereq.keyArn, signingSecretCiphertext: SECRET_CIPHERTEXT, zip });
  const account = await ensureApiGatewayAccount(ctx);
  const api = await ensureRestApi(ctx, { functionArn: fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn });
  const permission = await ensureLambdaPermission(ctx, { functionArn: fn.functionArn, restApiId: api.restApiId });
  const plan = await ensureUsagePlan(ctx, { restApiId: api.restApiId });
  return { fn, account, api, permission, plan, reports: [fn, account, api, permission, plan] as StepReport[] };
}

/** Registers the file's before/after hooks and returns the harness they fill. */
export function useApiHarness(): ApiHarness {
  const h = { sent: [], mutationsSoFar: 0 } as unknown as ApiHarness;
  before(async () => {
    h.moto = await startMoto();
    h.clients = createClients({ region: REGION, endpoint: h.moto.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 2, observer: (service, command, input) => h.sent.push({ service, command, input: input as Record<string, unknown> }) });
    for (const client of Object.values(h.clients)) {
      type Args = { input: unknown };
      const interrupter = (next: (args: Args) => Promise<unknown>, context: { commandName?: string }) => async (args: Args) => {
        const index = isReadOnly(String(context.commandName)) ? undefined : ++h.mutationsSoFar;
        if (h.interrupt?.when === "before" && index === h.interrupt.at) throw new Interrupted(`stopped before ${context.commandName}`);
        const result = await next(args);
        if (h.interrupt?.when === "after" && index === h.interrupt.at) throw new Interrupted(`stopped after ${context.commandName}`);
        return result;
      };
      (client.middlewareStack as unknown as { add(m: typeof interrupter, o: { step: string; name: string }): void }).add(interrupter, { step: "initialize", name: "testInterrupter" });
    }
    const direct = clientConfig(h.moto);
    h.aws = { iam: new IAMClient(direct), kms: new KMSClient(direct), logs: new CloudWatchLogsClient(direct), lambda: new LambdaClient(direct), apigw: new APIGatewayClient(direct), wafv2: new WAFV2Client(direct) };
  });
  after(async () => {
    if (h.clients) destroyClients(h.clients);
    for (const client of Object.values(h.aws ?? {})) client.destroy();
    await h.moto?.stop();
  });
  h.mutating = () => h.sent.filter((c) => !isReadOnly(c.command)).map((c) => c.command.replace(/Command$/, ""));
  h.inputsOf = (command) => h.sent.filter((c) => c.command === `${command}Command`).map((c) => c.input);
  h.context = (opts = {}) => {
    const cfg = opts.config ?? config;
    const stackNames = resourceNames(cfg.stackName, ACCOUNT, REGION);
    return { config: cfg, clients: h.clients, names: stackNames, account: ACCOUNT, region: REGION, partition: "aws", tags: tagsOf(cfg.stackName), dryRun: opts.dryRun ?? false, progress: () => {}, clock: virtualClock() };
  };
  h.prerequisites = async (stackNames = names) => {
    const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] };
    const role = await h.aws.iam.send(new CreateRoleCommand({ RoleName: stackNames.roleName, AssumeRolePolicyDocument: JSON.stringify(trust) }));
    const key = await h.aws.kms.send(new CreateKeyCommand({ Description: "imgapi test key" }));
    for (const logGroupName of [stackNames.functionLogGroup, stackNames.accessLogGroup]) await h.aws.logs.send(new CreateLogGroupCommand({ logGroupName }));
    const groups = await h.aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: stackNames.accessLogGroup }));
    // As DescribeLogGroups gives it, ending in ":*".
    return { roleArn: role.Role!.Arn!, keyArn: key.KeyMetadata!.Arn!, accessLogGroupArn: groups.logGroups![0]!.arn! };
  };
  h.run = async (ensure) => {
    h.sent.length = 0;
    const report = await ensure();
    return { report, mutations: h.mutating() };
  };
  h.deployApi = (ctx, prereq, zip = ZIP) => deployApiWith(ctx, prereq, zip);
  return h;
}
