// Every physical name derives from the stack name (plus account and region
// where S3 needs global uniqueness), so teardown finds what deploy made
// without a state file, and two stacks live side by side in one account.

export interface ResourceNames {
  stack: string;
  /** The images key: images, the function's environment, the URL-signing secret. */
  kmsAlias: string;
  /** The audit key: CloudTrail's log and digest files. */
  auditKmsAlias: string;
  /** The managed policy capping the function role (its permissions boundary). */
  boundaryPolicy: string;
  imagesBucket: string;
  trailBucket: string;
  functionName: string;
  roleName: string;
  functionLogGroup: string;
  accessLogGroup: string;
  restApi: string;
  /** The REST API's JWT authorizer (auth "jwt"). */
  authorizer: string;
  stage: string;
  apiKey: string;
  usagePlan: string;
  trail: string;
  /** Account-wide role API Gateway uses to write logs (shared; see api-gateway-account.ts). */
  apiGatewayLogsRole: string;
}

export function resourceNames(stack: string, account: string, region: string): ResourceNames {
  const fn = `${stack}-fn`;
  return {
    stack,
    kmsAlias: `alias/${stack}`,
    auditKmsAlias: `alias/${stack}-audit`,
    boundaryPolicy: `${fn}-boundary`,
    imagesBucket: `${stack}-images-${account}-${region}`,
    trailBucket: `${stack}-trail-${account}-${region}`,
    functionName: fn,
    roleName: `${fn}-role`,
    functionLogGroup: `/aws/lambda/${fn}`,
    accessLogGroup: `/aws/apigateway/${stack}-access`,
    restApi: stack,
    authorizer: `${stack}-jwt`,
    stage: "prod",
    apiKey: `${stack}-key`,
    usagePlan: `${stack}-plan`,
    trail: `${stack}-trail`,
    apiGatewayLogsRole: "imgapi-apigateway-cloudwatch-logs",
  };
}

/** The tag that marks a resource as this stack's (finders check it). */
export const STACK_TAG = "imgapi:stack";

/** Tags on every resource that takes them. */
export function stackTags(stack: string): Record<string, string> {
  return { [STACK_TAG]: stack, "imgapi:managed-by": "imgapi-deploy" };
}
