// Who may invoke the function, one statement of its resource policy each:
// API Gateway, only for this stack's API (the SourceArn names the API id, so no
// other API in the account, or elsewhere, can call the function through
// apigateway.amazonaws.com); and, with resizeOnUpload, S3 for the images bucket
// only (see bucket-notification.ts). Both go through the same find/ensure/remove.
import { AddPermissionCommand, GetPolicyCommand, RemovePermissionCommand } from "@aws-sdk/client-lambda";
import { arn } from "../arns.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, orAbsent } from "../toolkit/index.ts";

const RESOURCE = "Lambda permission";
/** Fixed, so every run finds (and replaces) the statement it made. */
export const STATEMENT_ID = "imgapi-apigateway-invoke";
const ACTION = "lambda:InvokeFunction";

/** A statement of the function's resource policy as Lambda returns it (AddPermission's shape, not a general policy statement). */
interface InvokeStatement {
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
export async function findInvokeStatement(ctx: DeployContext, sid: string, resource = RESOURCE): Promise<InvokeStatement | undefined> {
  const got = await step("reading", resource, displayName(ctx, sid), "lambda:GetPolicy", () =>
    orAbsent("lambda", () => ctx.clients.lambda.send(new GetPolicyCommand({ FunctionName: ctx.names.functionName }))),
  );
  const statements = (JSON.parse(got?.Policy ?? "{}") as { Statement?: InvokeStatement[] }).Statement ?? [];
  return statements.find((s) => s.Sid === sid);
}

/** The API Gateway statement this module manages for the REST API. */
export const findPermission = (ctx: DeployContext) => findInvokeStatement(ctx, STATEMENT_ID);

function drift(statement: InvokeStatement, spec: InvokeStatementSpec): string[] {
  const fields: string[] = [];
  const service = typeof statement.Principal === "string" ? statement.Principal : statement.Principal?.Service;
  if (statement.Effect !== "Allow") fields.push("Effect");
  if ([statement.Action ?? []].flat().join() !== ACTION) fields.push("Action");
  if ([service ?? []].flat().join() !== spec.principal) fields.push("Principal");
  if (statement.Condition?.ArnLike?.["AWS:SourceArn"] !== spec.sourceArn) fields.push("SourceArn");
  if (statement.Condition?.StringEquals?.["AWS:SourceAccount"] !== spec.sourceAccount) fields.push("SourceAccount");
  return fields;
}

/**
 * AddPermission, adopting the statement a lost answer already added (the
 * retry is refused: ResourceConflictException, "The statement id (...)
 * provided already exists"). What is adopted is checked like any found
 * statement, so a statement of that id with other fields is still replaced.
 */
async function addStatement(ctx: DeployContext, spec: InvokeStatementSpec, resource: string): Promise<InvokeStatement | undefined> {
  const added = await createOrAdopt(
    "lambda",
    async (): Promise<InvokeStatement | undefined> => {
      await ctx.clients.lambda.send(
        new AddPermissionCommand({
          FunctionName: ctx.names.functionName,
          StatementId: spec.sid,
          Action: ACTION,
          Principal: spec.principal,
          SourceArn: spec.sourceArn,
          ...(spec.sourceAccount ? { SourceAccount: spec.sourceAccount } : {}),
        }),
      );
      return undefined;
    },
    () => findInvokeStatement(ctx, spec.sid, resource),
  );
  return added.adopted ? added.value : undefined;
}

export async function ensureInvokeStatement(ctx: DeployContext, spec: InvokeStatementSpec): Promise<StepReport> {
  const resource = spec.resource ?? RESOURCE;
  const name = displayName(ctx, spec.sid);
  const changes = new Changes(ctx, resource, name);
  const remove = (label: string) =>
    changes.apply(label, "lambda:RemovePermission", () => ignoreAbsent("lambda", () => ctx.clients.lambda.send(new RemovePermissionCommand({ FunctionName: ctx.names.functionName, StatementId: spec.sid }))), "replacing");
  const add = (label: string) => changes.apply(label, "lambda:AddPermission", () => addStatement(ctx, spec, resource), "adding");

  const statement = await findInvokeStatement(ctx, spec.sid, resource);
  if (statement === undefined) {
    const adopted = await add("statement");
    const drifted = adopted === undefined ? [] : drift(adopted, spec);
    // Adopted with other fields: a statement of this id was added by someone else meanwhile.
    if (drifted.length > 0) {
      await remove(drifted.join(", "));
      await add("statement");
    }
    return changes.report(true, `SourceArn ${spec.sourceArn}`);
  }
  const drifted = drift(statement, spec);
  if (drifted.length === 0) return changes.report(false);
  // A statement cannot be edited: a drifted one is removed and added again. A
  // run stopped in between finds none and adds it.
  await remove(drifted.join(", "));
  await add("statement");
  return changes.report(false, drifted.join(", "));
}

export async function removeInvokeStatement(ctx: DeployContext, sid: string, resource = RESOURCE): Promise<StepReport> {
  const name = displayName(ctx, sid);
  if ((await findInvokeStatement(ctx, sid, resource)) === undefined) return { resource, name, action: "absent" };
  const changes = new Changes(ctx, resource, name);
  await changes.apply("statement", "lambda:RemovePermission", () => ignoreAbsent("lambda", () => ctx.clients.lambda.send(new RemovePermissionCommand({ FunctionName: ctx.names.functionName, StatementId: sid }))), "removing");
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

/** auth "jwt": API Gateway calls the function as the API's authorizer, from a source of its own (API_ID/authorizers/ID), which the methods' statement does not cover. */
export const AUTHORIZER_STATEMENT_ID = "imgapi-apigateway-authorizer";

export const authorizerSourceArn = (ctx: Pick<DeployContext, "partition" | "region" | "account">, restApiId: string) => arn(ctx, "execute-api", `${restApiId}/authorizers/*`);

export const ensureAuthorizerPermission = (ctx: DeployContext, deps: { restApiId: string }): Promise<StepReport> =>
  ensureInvokeStatement(ctx, { sid: AUTHORIZER_STATEMENT_ID, principal: "apigateway.amazonaws.com", sourceArn: authorizerSourceArn(ctx, deps.restApiId), resource: "authorizer permission" });

export const removeAuthorizerPermission = (ctx: DeployContext): Promise<StepReport> => removeInvokeStatement(ctx, AUTHORIZER_STATEMENT_ID, "authorizer permission");
