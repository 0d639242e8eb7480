// The image function: nodejs22.x, the deterministic zip from function-zip.ts,
// its environment (function-environment.ts) encrypted with the project's KMS
// key, logs to the log group made beforehand (so its retention and key are
// ours, not Lambda's defaults), a ceiling on concurrency
// (function-concurrency.ts). A redeploy compares CodeSha256 and each
// configuration field and sends only the updates that drifted.
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  TagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type FunctionConfiguration,
  type GetFunctionCommandOutput,
  type Runtime,
} from "@aws-sdk/client-lambda";
import { functionArn as plannedArn } from "../arns.ts";
import type { CdnSettings } from "../../function/cdn/cdn-env.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, step } from "../errors.ts";
import type { FunctionZip } from "../function-zip.ts";
import { Changes, createOrAdopt, ignoreAbsent, missingTags, orAbsent, PROPAGATION, retryWhilePropagating } from "../toolkit/index.ts";
import { applyConcurrency, planConcurrency } from "./function-concurrency.ts";
import { functionEnvironment } from "./function-environment.ts";
import { waitForFunction } from "./function-state.ts";

const RESOURCE = "Lambda function";
export const RUNTIME: Runtime = "nodejs22.x";
export const HANDLER = "index.handler";

export interface LambdaFunctionDeps {
  roleArn: string;
  keyArn: string;
  zip: Pick<FunctionZip, "bytes" | "sha256Base64"> & Partial<Pick<FunctionZip, "architecture">>;
  /** The URL-signing secret, KMS-encrypted and base64 (signing-secret.ts); never the plaintext. */
  signingSecretCiphertext: string;
  /** The CDN's settings when a distribution exists (cdn-function-settings.ts). */
  cdn?: CdnSettings;
}

interface Desired {
  Runtime: Runtime;
  Handler: string;
  Role: string;
  MemorySize: number;
  Timeout: number;
  Environment: { Variables: Record<string, string> };
  KMSKeyArn: string;
  LoggingConfig: { LogGroup: string };
}

type ConfigField = keyof Desired;

function desiredOf(ctx: DeployContext, deps: LambdaFunctionDeps): Desired {
  const { lambda } = ctx.config;
  return {
    Runtime: RUNTIME,
    Handler: HANDLER,
    Role: deps.roleArn,
    MemorySize: lambda.memoryMb,
    Timeout: lambda.timeoutSeconds,
    Environment: { Variables: functionEnvironment(ctx, deps.signingSecretCiphertext, deps.cdn) },
    KMSKeyArn: deps.keyArn,
    LoggingConfig: { LogGroup: ctx.names.functionLogGroup },
  };
}

export const findFunction = (ctx: DeployContext): Promise<GetFunctionCommandOutput | undefined> =>
  step("reading", RESOURCE, ctx.names.functionName, "lambda:GetFunction", () =>
    orAbsent("lambda", () => ctx.clients.lambda.send(new GetFunctionCommand({ FunctionName: ctx.names.functionName }))),
  );

const sameMap = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** The configuration fields that differ from what is deployed. */
function configDrift(ctx: DeployContext, actual: FunctionConfiguration, desired: Desired): ConfigField[] {
  if (actual.Environment?.Error) {
    const { ErrorCode, Message } = actual.Environment.Error;
    throw new DeployError("reading", RESOURCE, ctx.names.functionName, ErrorCode ?? "EnvironmentError", `${Message ?? ""} The environment is encrypted with ${desired.KMSKeyArn}: grant kms:Decrypt on it to your deploy identity.`.trim());
  }
  const drift: ConfigField[] = [];
  for (const field of ["Runtime", "Handler", "Role", "MemorySize", "Timeout"] as const) {
    if (actual[field] !== desired[field]) drift.push(field);
  }
  if (!sameMap(actual.Environment?.Variables ?? {}, desired.Environment.Variables)) drift.push("Environment");
  // moto stores neither KMSKeyArn nor LoggingConfig and returns neither: only a
  // value that is reported can be compared, or every run would "fix" it again.
  if (actual.KMSKeyArn !== undefined && actual.KMSKeyArn !== desired.KMSKeyArn) drift.push("KMSKeyArn");
  if (actual.LoggingConfig !== undefined && actual.LoggingConfig.LogGroup !== desired.LoggingConfig.LogGroup) drift.push("LoggingConfig");
  return drift;
}

export type LambdaFunctionReport = StepReport & { functionArn: string };

export async function ensureLambdaFunction(ctx: DeployContext, deps: LambdaFunctionDeps): Promise<LambdaFunctionReport> {
  const name = ctx.names.functionName;
  const architecture = ctx.config.lambda.architecture;
  if (deps.zip.architecture !== undefined && deps.zip.architecture !== architecture) {
    throw new DeployError("deploying", RESOURCE, name, "ArchitectureMismatch", `The zip was built for ${deps.zip.architecture} but config.lambda.architecture is ${architecture}: build it with buildFunctionZip({ architecture: "${architecture}" }).`);
  }
  const desired = desiredOf(ctx, deps);
  const changes = new Changes(ctx, RESOURCE, name);
  const found = await findFunction(ctx);
  if (found?.Configuration === undefined) return createFunction(ctx, deps, desired, changes);

  const actual = found.Configuration;
  const functionArn = actual.FunctionArn ?? plannedArn(ctx);
  const codeDrift = [
    ...(actual.CodeSha256 !== deps.zip.sha256Base64 ? ["code"] : []),
    ...((actual.Architectures?.[0] ?? "x86_64") !== architecture ? ["Architectures"] : []),
  ];
  const drift = configDrift(ctx, actual, desired);
  const current = found.Concurrency?.ReservedConcurrentExecutions;
  const concurrency = await planConcurrency(ctx, current);
  const tags = missingTags(found.Tags, ctx.tags);

  const lambda = ctx.clients.lambda;
  if (codeDrift.length > 0 || drift.length > 0) await waitUntilSettled(ctx, actual);
  if (codeDrift.length > 0) {
    // Code first, then configuration: Lambda refuses a second update while one
    // is in progress (ResourceConflictException), hence the wait between them;
    // and new code meeting old settings is the safe order, since the handler
    // checks IMGAPI_SETTINGS at cold start and new fields have defaults, while
    // old code might reject settings written for the new one.
    await changes.apply(codeDrift.join(", "), "lambda:UpdateFunctionCode", () =>
      retryWhilePropagating(ctx, PROPAGATION.functionUpdate, () => lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: deps.zip.bytes, Architectures: [architecture] }))), "updating code of");
    await waitForFunction(ctx, "updated");
  }
  if (drift.length > 0) {
    const update: Partial<Desired> = Object.fromEntries(drift.map((f) => [f, desired[f]]));
    // The variables are encrypted with this key: name it whenever they are sent.
    if (update.Environment) update.KMSKeyArn = desired.KMSKeyArn;
    await changes.apply(drift.join(", "), "lambda:UpdateFunctionConfiguration", () =>
      retryWhilePropagating(ctx, [PROPAGATION.functionUpdate, PROPAGATION.roleToLambda], () => lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, ...update }))), "updating configuration of");
    await waitForFunction(ctx, "updated");
  }
  await applyConcurrency(ctx, changes, current, concurrency);
  if (Object.keys(tags).length > 0) {
    await changes.apply("Tags", "lambda:TagResource", () => lambda.send(new TagResourceCommand({ Resource: functionArn, Tags: tags })), "tagging");
  }
  return { ...changes.report(false, changes.changed ? changes.list.join(", ") : concurrency.note), functionArn };
}

async function createFunction(ctx: DeployContext, deps: LambdaFunctionDeps, desired: Desired, changes: Changes): Promise<LambdaFunctionReport> {
  const name = ctx.names.functionName;
  const { architecture, memoryMb, timeoutSeconds } = ctx.config.lambda;
  const concurrency = await planConcurrency(ctx, undefined);
  const created = await changes.apply("function", "lambda:CreateFunction and iam:PassRole", () =>
    createOrAdopt(
      "lambda",
      () =>
        retryWhilePropagating(ctx, PROPAGATION.roleToLambda, () =>
          ctx.clients.lambda.send(
            new CreateFunctionCommand({
              FunctionName: name,
              ...desired,
              PackageType: "Zip",
              Code: { ZipFile: deps.zip.bytes },
              Architectures: [architecture],
              Tags: ctx.tags,
            }),
          ),
        ),
      // A lost answer: the SDK's retry is told the function exists; the next run reconciles its settings.
      async () => (await findFunction(ctx))?.Configuration,
    ), "creating");
  await waitForFunction(ctx, "active");
  await applyConcurrency(ctx, changes, undefined, concurrency);
  const ceiling = concurrency.reserved === undefined ? "" : `, reserved concurrency ${concurrency.reserved}`;
  const detail = `${RUNTIME} ${architecture}, ${memoryMb} MB, ${timeoutSeconds} s${ceiling}${concurrency.note ? ` (${concurrency.note})` : ""}`;
  return { ...changes.report(true, detail), functionArn: created?.value.FunctionArn ?? plannedArn(ctx) };
}

/** A run interrupted right after a create or update finds the function busy: updates would be refused until it settles. */
async function waitUntilSettled(ctx: DeployContext, actual: FunctionConfiguration): Promise<void> {
  if (actual.State === "Pending") await waitForFunction(ctx, "active");
  else if (actual.LastUpdateStatus === "InProgress") await waitForFunction(ctx, "updated");
}

export async function removeLambdaFunction(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.functionName;
  if ((await findFunction(ctx)) === undefined) return { resource: RESOURCE, name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, name);
  await changes.apply("function", "lambda:DeleteFunction", () => ignoreAbsent("lambda", () => ctx.clients.lambda.send(new DeleteFunctionCommand({ FunctionName: name }))), "deleting");
  return { resource: RESOURCE, name, action: "deleted" };
}
