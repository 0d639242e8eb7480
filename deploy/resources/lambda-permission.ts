// Lets API Gateway invoke the function, and only for this stack's API: the
// statement's SourceArn names the API id, so no other API in the account (or
// elsewhere) can call the function through apigateway.amazonaws.com.
import { AddPermissionCommand, GetPolicyCommand, RemovePermissionCommand } from "@aws-sdk/client-lambda";
import { arn, mutate, type DeployContext, type StepReport } from "../context.ts";
import { isNotFound, step } from "../errors.ts";

const RESOURCE = "Lambda permission";
/** Fixed, so every run finds (and replaces) the statement it made. */
export const STATEMENT_ID = "imgapi-apigateway-invoke";
const PRINCIPAL = "apigateway.amazonaws.com";
const ACTION = "lambda:InvokeFunction";

interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  Principal?: { Service?: string | string[] } | string;
  Condition?: { ArnLike?: Record<string, string> };
}

/** Any stage, method and path of this API: arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH. */
export const invokeSourceArn = (ctx: Pick<DeployContext, "partition" | "region" | "account">, restApiId: string) => arn(ctx, "execute-api", `${restApiId}/*/*/*`);

const displayName = (ctx: DeployContext) => `${ctx.names.functionName}/${STATEMENT_ID}`;

/** The statement this module manages, or undefined when it (or the function's policy, or the function) does not exist. */
export async function findPermission(ctx: DeployContext): Promise<PolicyStatement | undefined> {
  return step("reading", RESOURCE, displayName(ctx), "lambda:GetPolicy", async () => {
    try {
      const { Policy } = await ctx.clients.lambda.send(new GetPolicyCommand({ FunctionName: ctx.names.functionName }));
      const statements = (JSON.parse(Policy ?? "{}") as { Statement?: PolicyStatement[] }).Statement ?? [];
      return statements.find((s) => s.Sid === STATEMENT_ID);
    } catch (e) {
      if (isNotFound(e, "ResourceNotFoundException")) return undefined;
      throw e;
    }
  });
}

function drift(statement: PolicyStatement, sourceArn: string): string[] {
  const fields: string[] = [];
  const service = typeof statement.Principal === "string" ? statement.Principal : statement.Principal?.Service;
  if (statement.Effect !== "Allow") fields.push("Effect");
  if ([statement.Action ?? []].flat().join() !== ACTION) fields.push("Action");
  if ([service ?? []].flat().join() !== PRINCIPAL) fields.push("Principal");
  if (statement.Condition?.ArnLike?.["AWS:SourceArn"] !== sourceArn) fields.push("SourceArn");
  return fields;
}

export interface LambdaPermissionDeps {
  restApiId: string;
  /** Optional: the function is found by its stack name either way. */
  functionArn?: string;
}

export async function ensureLambdaPermission(ctx: DeployContext, deps: LambdaPermissionDeps): Promise<StepReport & { sourceArn: string }> {
  const name = displayName(ctx);
  const sourceArn = invokeSourceArn(ctx, deps.restApiId);
  const statement = await findPermission(ctx);
  const drifted = statement === undefined ? [] : drift(statement, sourceArn);
  if (statement !== undefined && drifted.length === 0) return { resource: RESOURCE, name, action: "unchanged", sourceArn };

  // A statement cannot be edited: a drifted one is removed and added again. A
  // run stopped in between finds none and adds it.
  if (statement !== undefined) {
    await mutate(ctx, () =>
      step("replacing", RESOURCE, name, "lambda:RemovePermission", () =>
        ctx.clients.lambda.send(new RemovePermissionCommand({ FunctionName: ctx.names.functionName, StatementId: STATEMENT_ID })),
      ),
    );
  }
  await mutate(ctx, () =>
    step("adding", RESOURCE, name, "lambda:AddPermission", () =>
      ctx.clients.lambda.send(
        new AddPermissionCommand({ FunctionName: ctx.names.functionName, StatementId: STATEMENT_ID, Action: ACTION, Principal: PRINCIPAL, SourceArn: sourceArn }),
      ),
    ),
  );
  return statement === undefined
    ? { resource: RESOURCE, name, action: "created", detail: `SourceArn ${sourceArn}`, sourceArn }
    : { resource: RESOURCE, name, action: "updated", detail: drifted.join(", "), sourceArn };
}

export async function removeLambdaPermission(ctx: DeployContext): Promise<StepReport> {
  const name = displayName(ctx);
  if ((await findPermission(ctx)) === undefined) return { resource: RESOURCE, name, action: "absent" };
  await mutate(ctx, () =>
    step("removing", RESOURCE, name, "lambda:RemovePermission", async () => {
      try {
        await ctx.clients.lambda.send(new RemovePermissionCommand({ FunctionName: ctx.names.functionName, StatementId: STATEMENT_ID }));
      } catch (e) {
        if (!isNotFound(e, "ResourceNotFoundException")) throw e;
      }
    }),
  );
  return { resource: RESOURCE, name, action: "deleted" };
}
