// The CloudFront Function that normalises Accept at the edge (viewer
// request), so an "auto" size has at most three cache entries per URL. Its
// code is the function side's EDGE_FUNCTION_CODE, uploaded as is; a redeploy
// compares the code of both stages and sends nothing when they match.
// CloudFront runs only the LIVE stage: an update is published.
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateFunction.html
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_PublishFunction.html
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  DescribeFunctionCommand,
  GetFunctionCommand,
  PublishFunctionCommand,
  UpdateFunctionCommand,
  type FunctionConfig,
  type FunctionStage,
} from "@aws-sdk/client-cloudfront";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, orAbsent } from "../toolkit/index.ts";
import { EDGE_FUNCTION_CODE, EDGE_FUNCTION_RUNTIME } from "../../function/cdn/edge-function.ts";
import { cdnNames } from "./cdn-names.ts";

const RESOURCE = "CloudFront function (Accept classes)";

interface Stage {
  code: string;
  etag: string;
  arn?: string;
  runtime?: string;
}

async function readStage(ctx: DeployContext, Stage: FunctionStage): Promise<Stage | undefined> {
  const Name = cdnNames(ctx).edgeFunction;
  const { cloudfront } = ctx.clients;
  return step("reading", RESOURCE, `${Name} (${Stage})`, "cloudfront:DescribeFunction and cloudfront:GetFunction", async () => {
    const described = await orAbsent("cloudfront", () => cloudfront.send(new DescribeFunctionCommand({ Name, Stage })));
    if (described === undefined) return undefined;
    const got = await orAbsent("cloudfront", () => cloudfront.send(new GetFunctionCommand({ Name, Stage })));
    if (got === undefined) return undefined;
    const summary = described.FunctionSummary;
    return { code: Buffer.from(got.FunctionCode ?? new Uint8Array()).toString("utf8"), etag: described.ETag ?? "", arn: summary?.FunctionMetadata?.FunctionARN, runtime: summary?.FunctionConfig?.Runtime };
  });
}

export const findEdgeFunction = (ctx: DeployContext) => readStage(ctx, "DEVELOPMENT");

export type EdgeFunctionReport = StepReport & { functionArn: string };

export async function ensureEdgeFunction(ctx: DeployContext): Promise<EdgeFunctionReport> {
  const Name = cdnNames(ctx).edgeFunction;
  const { cloudfront } = ctx.clients;
  const changes = new Changes(ctx, RESOURCE, Name);
  const FunctionConfig: FunctionConfig = { Comment: `imgapi ${ctx.names.stack}: Accept to image/avif, image/webp or */*`, Runtime: EDGE_FUNCTION_RUNTIME };
  const FunctionCode = Buffer.from(EDGE_FUNCTION_CODE, "utf8");
  let dev = await findEdgeFunction(ctx);
  const created = dev === undefined;
  if (dev === undefined) {
    const made = await changes.apply("function", "cloudfront:CreateFunction", () =>
      createOrAdopt(
        "cloudfront",
        async (): Promise<Stage> => {
          const out = await cloudfront.send(new CreateFunctionCommand({ Name, FunctionConfig, FunctionCode }));
          return { code: EDGE_FUNCTION_CODE, etag: out.ETag ?? "", arn: out.FunctionSummary?.FunctionMetadata?.FunctionARN };
        },
        () => findEdgeFunction(ctx),
      ), "creating");
    dev = made?.value;
  } else if (dev.code !== EDGE_FUNCTION_CODE || dev.runtime !== EDGE_FUNCTION_RUNTIME) {
    const from = dev;
    const out = await changes.apply("code", "cloudfront:UpdateFunction", () => cloudfront.send(new UpdateFunctionCommand({ Name, IfMatch: from.etag, FunctionConfig, FunctionCode })), "updating");
    dev = { ...from, code: EDGE_FUNCTION_CODE, etag: out?.ETag ?? from.etag };
  }
  // A run stopped between the update and the publish left LIVE behind: publishing finishes it.
  const live = created || dev === undefined ? undefined : await readStage(ctx, "LIVE");
  if (live?.code !== EDGE_FUNCTION_CODE) {
    const etag = dev?.etag ?? "";
    await changes.apply("published (LIVE)", "cloudfront:PublishFunction", () => cloudfront.send(new PublishFunctionCommand({ Name, IfMatch: etag })), "publishing");
  }
  const functionArn = dev?.arn ?? `arn:${ctx.partition}:cloudfront::${ctx.account}:function/${Name}`;
  return { ...changes.report(created, created ? `${EDGE_FUNCTION_RUNTIME}, viewer request, published` : undefined), functionArn };
}

/** After the distribution: a function a behavior uses cannot be deleted (FunctionInUse). */
export async function removeEdgeFunction(ctx: DeployContext): Promise<StepReport> {
  const Name = cdnNames(ctx).edgeFunction;
  const dev = await findEdgeFunction(ctx);
  if (dev === undefined) return { resource: RESOURCE, name: Name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, Name);
  await changes.apply("function", "cloudfront:DeleteFunction", () => ignoreAbsent("cloudfront", () => ctx.clients.cloudfront.send(new DeleteFunctionCommand({ Name, IfMatch: dev.etag }))), "deleting");
  return { resource: RESOURCE, name: Name, action: "deleted" };
}
