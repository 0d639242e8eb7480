// What an IAM identity needs to call this API in "iam" mode, and no more:
// execute-api:Invoke on exactly its private routes, on this stage. Deploy
// prints it; the README tells users to attach it to their callers.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html
import { ROUTES, type Route } from "../../function/routes.ts";
import { arn } from "../arns.ts";
import type { DeployContext } from "../context.ts";
import type { PolicyDocument } from "../policies/document.ts";

type Scope = Pick<DeployContext, "partition" | "region" | "account" | "names">;

/** execute-api:Invoke's resource for one route of this API's stage: arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/path, each {param} a "*". */
export function routeInvokeArn(ctx: Scope, restApiId: string, route: Pick<Route, "method" | "resource">): string {
  return arn(ctx, "execute-api", `${restApiId}/${ctx.names.stage}/${route.method}${route.resource.replace(/\{[^}]+\}/g, "*")}`);
}

/** Public routes and OPTIONS need no signature, so they are not listed. */
export function clientPolicy(ctx: Scope, restApiId: string, routes: readonly Route[] = ROUTES): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "InvokeImageApi",
        Effect: "Allow",
        Action: "execute-api:Invoke",
        Resource: routes.filter((r) => r.access === "private").map((r) => routeInvokeArn(ctx, restApiId, r)),
      },
    ],
  };
}
