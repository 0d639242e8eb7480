// The image function: nodejs22.x, the deterministic zip from function-zip.ts,
// settings and the URL-signing secret's ciphertext (from signing-secret.ts) in
// an environment encrypted with the project's KMS key, logs to the log group
// made beforehand (so its retention and key are ours, not Lambda's defaults).
// A redeploy compares CodeSha256 and each configuration field and sends only
// the updates that drifted.
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  GetFunctionCommand,
  PutFunctionConcurrencyCommand,
  TagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
  type FunctionConfiguration,
  type GetFunctionCommandOutput,
  type Runtime,
} from "@aws-sdk/client-lambda";
import { BUCKET_ENV, runtimeSettingsOf, SETTINGS_ENV, settingsToEnv, SIGNING_SECRET_ENV } from "../../config/runtime-env.ts";
import { arn } from "../arns.ts";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { DeployError, isNotFound, step } from "../errors.ts";
import type { FunctionZip } from "../function-zip.ts";
import { retryWhileRoleNotAssumable } from "./lambda-role.ts";

const RESOURCE = "Lambda function";
export const RUNTIME: Runtime = "nodejs22.x";
export const HANDLER = "index.handler";
/** Lambda's own updates normally finish in seconds; this bounds the waiters. */
const WAIT_SECONDS = 300;

export interface LambdaFunctionDeps {
  roleArn: string;
  keyArn: string;
  zip: Pick<FunctionZip, "bytes" | "sha256Base64"> & Partial<Pick<FunctionZip, "architecture">>;
  /** The URL-signing secret, KMS-encrypted and base64 (signing-secret.ts); never the plaintext. */
  signingSecretCiphertext: string;
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
    Environment: {
      Variables: {
        [BUCKET_ENV]: ctx.names.imagesBucket,
        [SETTINGS_ENV]: settingsToEnv(runtimeSettingsOf(ctx.config)),
        [SIGNING_SECRET_ENV]: deps.signingSecretCiphertext,
        // glibc: at most 2 malloc arenas. libuv's and libvips' threads otherwise
        // each get one and fragment; npm run bench measured peak RSS -22% over 3
        // requests and -25% over 10, at the same CPU.
        MALLOC_ARENA_MAX: "2",
      },
    },
    KMSKeyArn: deps.keyArn,
    LoggingConfig: { LogGroup: ctx.names.functionLogGroup },
  };
}

export async function findFunction(ctx: DeployContext): Promise<GetFunctionCommandOutput | undefined> {
  const name = ctx.names.functionName;
  return step("reading", RESOURCE, name, "lambda:GetFunction", async () => {
    try {
      return await ctx.clients.lambda.send(new GetFunctionCommand({ FunctionName: name }));
    } catch (e) {
      if (isNotFound(e, "ResourceNotFoundException")) return undefined;
      throw e;
    }
  });
}

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

export async function ensureLambdaFunction(ctx: DeployContext, deps: LambdaFunctionDeps): Promise<StepReport & { functionArn: string }> {
  const name = ctx.names.functionName;
  const architecture = ctx.config.lambda.architecture;
  if (deps.zip.architecture !== undefined && deps.zip.architecture !== architecture) {
    throw new DeployError("deploying", RESOURCE, name, "ArchitectureMismatch", `The zip was built for ${deps.zip.architecture} but config.lambda.architecture is ${architecture}: build it with buildFunctionZip({ architecture: "${architecture}" }).`);
  }
  const desired = desiredOf(ctx, deps);
  const found = await findFunction(ctx);
  if (found?.Configuration === undefined) return createFunction(ctx, deps, desired);

  const actual = found.Configuration;
  const functionArn = actual.FunctionArn ?? arn(ctx, "lambda", `function:${name}`);
  const codeDrift: string[] = [];
  if (actual.CodeSha256 !== deps.zip.sha256Base64) codeDrift.push("code");
  if ((actual.Architectures?.[0] ?? "x86_64") !== architecture) codeDrift.push("Architectures");
  const drift = configDrift(ctx, actual, desired);
  const reserved = ctx.config.lambda.reservedConcurrency;
  const concurrencyDrift = found.Concurrency?.ReservedConcurrentExecutions !== reserved;
  const missingTags = Object.fromEntries(Object.entries(ctx.tags).filter(([k, v]) => found.Tags?.[k] !== v));
  const tagDrift = Object.keys(missingTags).length > 0;

  const changes = [...codeDrift, ...drift, ...(concurrencyDrift ? ["ReservedConcurrency"] : []), ...(tagDrift ? ["Tags"] : [])];
  if (changes.length === 0) return { resource: RESOURCE, name, action: "unchanged", functionArn };

  if (!ctx.dryRun) await waitIfBusy(ctx, actual);
  if (codeDrift.length > 0) {
    // Code first, then configuration: Lambda refuses a second update while one
    // is in progress (ResourceConflictException), hence the wait between them;
    // and new code meeting old settings is the safe order, since the handler
    // checks IMGAPI_SETTINGS at cold start and new fields have defaults, while
    // old code might reject settings written for the new one.
    await mutate(ctx, () =>
      step("updating code of", RESOURCE, name, "lambda:UpdateFunctionCode", () =>
        ctx.clients.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: deps.zip.bytes, Architectures: [architecture] })),
      ),
    );
    await waitUpdated(ctx);
  }
  if (drift.length > 0) {
    const update: Partial<Desired> = Object.fromEntries(drift.map((f) => [f, desired[f]]));
    // The variables are encrypted with this key: name it whenever they are sent.
    if (update.Environment) update.KMSKeyArn = desired.KMSKeyArn;
    await mutate(ctx, () =>
      step("updating configuration of", RESOURCE, name, "lambda:UpdateFunctionConfiguration", () =>
        ctx.clients.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, ...update })),
      ),
    );
    await waitUpdated(ctx);
  }
  if (concurrencyDrift) await applyConcurrency(ctx, reserved);
  if (tagDrift) {
    await mutate(ctx, () => step("tagging", RESOURCE, name, "lambda:TagResource", () => ctx.clients.lambda.send(new TagResourceCommand({ Resource: functionArn, Tags: missingTags }))));
  }
  return { resource: RESOURCE, name, action: "updated", detail: changes.join(", "), functionArn };
}

async function createFunction(ctx: DeployContext, deps: LambdaFunctionDeps, desired: Desired): Promise<StepReport & { functionArn: string }> {
  const name = ctx.names.functionName;
  const { architecture, memoryMb, timeoutSeconds, reservedConcurrency } = ctx.config.lambda;
  const detail = `${RUNTIME} ${architecture}, ${memoryMb} MB, ${timeoutSeconds} s${reservedConcurrency ? `, reserved concurrency ${reservedConcurrency}` : ""}`;
  const created = await mutate(ctx, () =>
    step("creating", RESOURCE, name, "lambda:CreateFunction and iam:PassRole", () =>
      retryWhileRoleNotAssumable(
        () =>
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
        { roleName: deps.roleArn.split("/").pop() ?? deps.roleArn },
      ),
    ),
  );
  if (!ctx.dryRun) {
    ctx.progress(`waiting for ${name} to become Active`);
    await step("waiting for", RESOURCE, name, "lambda:GetFunction", () => waitUntilFunctionActiveV2({ client: ctx.clients.lambda, maxWaitTime: WAIT_SECONDS }, { FunctionName: name }));
    if (reservedConcurrency !== undefined) await applyConcurrency(ctx, reservedConcurrency);
  }
  return { resource: RESOURCE, name, action: "created", detail, functionArn: created?.FunctionArn ?? arn(ctx, "lambda", `function:${name}`) };
}

async function applyConcurrency(ctx: DeployContext, reserved: number | undefined): Promise<void> {
  const name = ctx.names.functionName;
  await mutate(ctx, () =>
    reserved === undefined
      ? step("removing reserved concurrency of", RESOURCE, name, "lambda:DeleteFunctionConcurrency", () => ctx.clients.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: name })))
      : step("reserving concurrency for", RESOURCE, name, "lambda:PutFunctionConcurrency", () =>
          ctx.clients.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: reserved })),
        ),
  );
}

/** A run interrupted right after a create or update finds the function busy: updates would be refused until it settles. */
async function waitIfBusy(ctx: DeployContext, actual: FunctionConfiguration): Promise<void> {
  const name = ctx.names.functionName;
  if (actual.State === "Pending") {
    ctx.progress(`waiting for ${name} to become Active`);
    await step("waiting for", RESOURCE, name, "lambda:GetFunction", () => waitUntilFunctionActiveV2({ client: ctx.clients.lambda, maxWaitTime: WAIT_SECONDS }, { FunctionName: name }));
  } else if (actual.LastUpdateStatus === "InProgress") {
    await waitUpdated(ctx);
  }
}

async function waitUpdated(ctx: DeployContext): Promise<void> {
  if (ctx.dryRun) return;
  const name = ctx.names.functionName;
  ctx.progress(`waiting for the update of ${name} to finish`);
  await step("waiting for", RESOURCE, name, "lambda:GetFunction", () => waitUntilFunctionUpdatedV2({ client: ctx.clients.lambda, maxWaitTime: WAIT_SECONDS }, { FunctionName: name }));
}

export async function removeLambdaFunction(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.functionName;
  const found = await findFunction(ctx);
  if (found === undefined) return { resource: RESOURCE, name, action: "absent" };
  await mutate(ctx, () =>
    step("deleting", RESOURCE, name, "lambda:DeleteFunction", async () => {
      try {
        await ctx.clients.lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
      } catch (e) {
        if (!isNotFound(e, "ResourceNotFoundException")) throw e;
      }
    }),
  );
  return { resource: RESOURCE, name, action: "deleted" };
}
