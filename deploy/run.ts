// The deploy: the preflight checks, then every step of the stack table
// (deploy/stack.ts) in order. A run that stopped half-way is finished by the
// next one, because every ensure finds what exists before it creates anything.
import type { Config } from "../config/schema.ts";
import type { AuthMode } from "../function/routes.ts";
import type { AwsClients } from "./aws-clients.ts";
import { contextFor, type DeployContext, type StepReport } from "./context.ts";
import type { FunctionZip } from "./function-zip.ts";
import type { PolicyDocument } from "./policies/document.ts";
import { preflight } from "./preflight.ts";
import { cognitoPool } from "./resources/api-authorizer.ts";
import { clientPolicy } from "./resources/rest-api.ts";
import { apiKeyValueCommand, REVOKED_KEY } from "./resources/usage-plan.ts";
import { STACK, type Built } from "./stack.ts";
import type { Clock } from "./toolkit/propagation.ts";

export interface DeployOptions {
  config: Config;
  clients: AwsClients;
  dryRun?: boolean;
  progress?: (message: string) => void;
  /** Called as each resource is done, for line-by-line output. */
  onStep?: (report: StepReport) => void;
  /** A prebuilt function zip (tests); by default the zip is built from function/. */
  zip?: FunctionZip;
  /** The AWS CLI options of this run (--profile, --endpoint-url), repeated in the commands the outputs print. */
  awsCliOptions?: string;
  /** Replace the URL-signing secret: every signed URL handed out so far stops working. */
  rotateSigningSecret?: boolean;
  /** Time for propagation retries; tests pass one that does not wait. */
  clock?: Clock;
}

export interface DeployOutputs {
  endpointUrl: string;
  /** How private routes are guarded (config.auth). */
  auth: AuthMode;
  /** "apiKey" mode only: the key's id and the command that prints its value (never the value). */
  apiKeyId?: string;
  readApiKeyValue?: string;
  /** "iam" mode only: the least-privilege policy for callers (execute-api:Invoke on exactly the private routes). */
  clientPolicy?: PolicyDocument;
  /** "jwt" mode only: whose tokens the API takes, and which authorizer checks them. */
  jwt?: { issuer: string; audience: string; authorizer: "TOKEN" | "COGNITO_USER_POOLS" };
  /** cdn.enabled: the base of the public image URLs (the distribution's domain, or cdn.domain once it serves it). */
  cdnUrl?: string;
  imagesBucket: string;
  trailBucket: string;
  functionName: string;
  keyArn: string;
  /** The key CloudTrail's files are encrypted with (auditors decrypt with it). */
  auditKeyArn: string;
  trailName: string;
  region: string;
  stage: string;
}

export interface DeployResult {
  resources: StepReport[];
  outputs: DeployOutputs;
}

/** What the report lists: the step's own fields, not the outputs some steps carry. */
const plain = ({ resource, name, action, detail }: StepReport): StepReport => ({ resource, name, action, ...(detail ? { detail } : {}) });

/** What callers of this auth mode need: the key's id and how to read it, the client policy, or the issuer. */
function modeOutputs(ctx: DeployContext, built: Partial<Built>, awsCliOptions = ""): Pick<DeployOutputs, "apiKeyId" | "readApiKeyValue" | "clientPolicy" | "jwt"> {
  const { auth, jwt } = ctx.config;
  if (auth === "jwt" && jwt !== undefined) return { jwt: { issuer: jwt.issuer, audience: jwt.audience, authorizer: cognitoPool(jwt.issuer) === undefined ? "TOKEN" : "COGNITO_USER_POOLS" } };
  if (auth === "iam") return { clientPolicy: clientPolicy(ctx, built.restApiId!) };
  const apiKeyId = built.apiKeyId;
  if (apiKeyId === REVOKED_KEY) return { apiKeyId };
  return apiKeyId === undefined ? {} : { apiKeyId, readApiKeyValue: `${apiKeyValueCommand(apiKeyId)} --region ${ctx.region}${awsCliOptions}` };
}

export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const ctx = await contextFor(options);
  const resources: StepReport[] = [];
  const done = (r: StepReport) => {
    const line = plain(r);
    resources.push(line);
    options.onStep?.(line);
  };
  await preflight(ctx);
  const built: Partial<Built> = {};
  const run = { zip: options.zip, rotateSigningSecret: options.rotateSigningSecret ?? false };
  for (const step of STACK) {
    const enabled = step.enabled?.(ctx.config) ?? true;
    if (enabled === true) {
      done(await step.ensure(ctx, built, run));
      continue;
    }
    // Off: retire what an earlier configuration made; a stack that never used it sees no line.
    const retired = await step.remove?.(ctx, run, {});
    if (retired !== undefined && retired.action !== "absent") done({ ...retired, detail: [retired.detail, enabled].filter(Boolean).join("; ") });
  }

  return {
    resources,
    outputs: {
      endpointUrl: built.endpointUrl!,
      auth: ctx.config.auth,
      ...modeOutputs(ctx, built, options.awsCliOptions),
      ...(built.cdnSettings ? { cdnUrl: built.cdnSettings.url } : {}),
      imagesBucket: ctx.names.imagesBucket,
      trailBucket: ctx.names.trailBucket,
      functionName: ctx.names.functionName,
      keyArn: built.imagesKeyArn!,
      auditKeyArn: built.auditKeyArn!,
      trailName: ctx.names.trail,
      region: ctx.region,
      stage: ctx.names.stage,
    },
  };
}
