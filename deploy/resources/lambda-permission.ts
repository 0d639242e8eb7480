// Who may invoke the function, one statement of its resource policy each:
// API Gateway, only for this stack's API (the SourceArn names the API id, so no
// other API in the account, or elsewhere, can call the function through
// apigateway.amazonaws.com); and, with resizeOnUpload, S3 for the images bucket
// only (see bucket-notification.ts). Both go through the same find/ensure/remove.
import { AddPermissionCommand, GetPolicyCommand, RemovePermissionCommand } from "@aws-sdk/client-lambda";
import { arn } from "../arns.ts";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { isNotFound, step } from "../errors.ts";

const RESOURCE = "Lambda permission";
/** Fixed, so every run finds (and replaces) the statement it made. */
export const STATEMENT_ID = "imgapi-apigateway-invoke";
const ACTION = "lambda:InvokeFunction";

interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  Principal?: { Service?: string | string[] } | string;
  Condition?: { ArnLike?: Record<string, string>; StringEquals?: Record<string, string> };
}

/** One invoke statement: a service principal, limited to one source (and, for S3, one account). */
export interface InvokeStatementSpec {
  /** The statement id: fixed per purpose, so a run finds what an earlier one made. */
  sid: string;
  /** "apigateway.amazonaws.com", "s3.amazonaws.com". */
  principal: string;
  sourceArn: string;
  /** S3 bucket ARNs carry no account: SourceAccount stops a same-named bucket elsewhere from invoking. */
  sourceAccount?: string;
  /** How reports and errors name it. */
  resource?: string;
}

/** Any stage, method and path of this API: arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH. */
export const invokeSourceArn = (ctx: Pick<DeployContext, "partition" | "region" | "account">, restApiId: string) => arn(ctx, "execute-api", `${restApiId}/*/*/*`);

const displayName = (ctx: DeployContext, sid: string) => `${ctx.names.functionName}/${sid}`;

/** The statement with this id, or undefined when it (or the function's policy, or the function) does not exist. */
export async function findInvokeStatement(ctx: DeployContext, sid: string, resource = RESOURCE): Promise<PolicyStatement | undefined> {
  return step("reading", resource, displayName(ctx, sid), "lambda:GetPolicy", async () => {
    try {
      const { Policy } = await ctx.clients.lambda.send(new GetPolicyCommand({ FunctionName: ctx.names.functionName }));
      const statements = (JSON.parse(Policy ?? "{}") as { Statement?: PolicyStatement[] }).Statement ?? [];
      return statements.find((s) => s.Sid === sid);
    } catch (e) {
      if (isNotFound(e, "ResourceNotFoundException")) return undefined;
      throw e;
    }
  });
}

/** The API Gateway statement this module manages for the REST API. */
export const findPermission = (ctx: DeployContext) => findInvokeStatement(ctx, STATEMENT_ID);

function drift(statement: PolicyStatement, spec: InvokeStatementSpec): string[] {
  const fields: string[] = [];
  const service = typeof statement.Principal === "string" ? statement.Principal : statement.Principal?.Service;
  if (statement.Effect !== "Allow") fields.push("Effect");
  if ([statement.Action ?? []].flat().join() !== ACTION) fields.push("Action");
  if ([service ?? []].flat().join() !== spec.principal) fields.push("Principal");
  if (statement.Condition?.ArnLike?.["AWS:SourceArn"] !== spec.sourceArn) fields.push("SourceArn");
  if (statement.Condition?.StringEquals?.["AWS:SourceAccount"] !== spec.sourceAccount) fields.push("SourceAccount");
  return fields;
}

export async function ensureInvokeStatement(ctx: DeployContext, spec: InvokeStatementSpec): Promise<StepReport> {
  const resource = spec.resource ?? RESOURCE;
  const name = displayName(ctx, spec.sid);
  const statement = await findInvokeStatement(ctx, spec.sid, resource);
  const drifted = statement === undefined ? [] : drift(statement, spec);
  if (statement !== undefined && drifted.length === 0) return { resource, name, action: "unchanged" };

  // A statement cannot be edited: a drifted one is removed and added again. A
  // run stopped in between finds none and adds it.
  if (statement !== undefined) {
    await mutate(ctx, () =>
      step("replacing", resource, name, "lambda:RemovePermission", () =>
        ctx.clients.lambda.send(new RemovePermissionCommand({ FunctionName: ctx.names.functionName, StatementId: spec.sid })),
      ),
    );
  }
  await mutate(ctx, () =>
    step("adding", resource, name, "lambda:AddPermission", () =>
      ctx.clients.lambda.send(
        new AddPermissionCommand({
          FunctionName: ctx.names.functionName,
          StatementId: spec.sid,
          Action: ACTION,
          Principal: spec.principal,
          SourceArn: spec.sourceArn,
          ...(spec.sourceAccount ? { SourceAccount: spec.sourceAccount } : {}),
        }),
      ),
    ),
  );
  return statement === undefined
    ? { resource, name, action: "created", detail: `SourceArn ${spec.sourceArn}` }
    : { resource, name, action: "updated", detail: drifted.join(", ") };
}

export async function removeInvokeStatement(ctx: DeployContext, sid: string, resource = RESOURCE): Promise<StepReport> {
  const name = displayName(ctx, sid);
  if ((await findInvokeStatement(ctx, sid, resource)) === undefined) return { resource, name, action: "absent" };
  await mutate(ctx, () =>
    step("removing", resource, name, "lambda:RemovePermission", async () => {
      try {
        await ctx.clients.lambda.send(new RemovePermissionCommand({ FunctionName: ctx.names.functionName, StatementId: sid }));
      } catch (e) {
        if (!isNotFound(e, "ResourceNotFoundException")) throw e;
      }
    }),
  );
  return { resource, name, action: "deleted" };
}

export interface LambdaPermissionDeps {
  restApiId: string;
  /** Optional: the function is found by its stack name either way. */
  functionArn?: string;
}

export async function ensureLambdaPermission(ctx: DeployContext, deps: LambdaPermissionDeps): Promise<StepReport & { sourceArn: string }> {
  const sourceArn = invokeSourceArn(ctx, deps.restApiId);
  const report = await ensureInvokeStatement(ctx, { sid: STATEMENT_ID, principal: "apigateway.amazonaws.com", sourceArn });
  return { ...report, sourceArn };
}

export const removeLambdaPermission = (ctx: DeployContext): Promise<StepReport> => removeInvokeStatement(ctx, STATEMENT_ID);
