// Deploy errors say what was being done, to which resource, why it failed, and
// what to do next: "creating IAM role (imgapi-dev-fn-role): AccessDenied. Grant
// iam:CreateRole to your deploy identity, or run with a profile that has it."

export class DeployError extends Error {
  override readonly name = "DeployError";
  constructor(
    readonly action: string,
    readonly resource: string,
    readonly resourceName: string,
    readonly code: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(`${action} ${resource} (${resourceName}): ${code}. ${hint}`, options);
  }
}

export function errorName(e: unknown): string {
  const err = e as { name?: string; Code?: string; code?: string; __type?: string };
  return err?.name ?? err?.Code ?? err?.code ?? "Error";
}

const ACCESS_DENIED = new Set(["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"]);
/** AWS did not recognise the credentials, or they have expired: no permission would help. */
const CREDENTIALS_REFUSED = new Set(["UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "SignatureDoesNotMatch"]);

const CHECK_IDENTITY = "Check with: aws sts get-caller-identity";

/** What to run next when the SDK found no usable credentials, or AWS refused them. */
export function credentialsHint(code: string, message: string): string | undefined {
  if (code === "CredentialsProviderError") {
    const profile = /profile:? \[?([^\]\s.]+)\]?/i.exec(message)?.[1];
    if (profile !== undefined) {
      return `The AWS profile "${profile}" was not found or has no credentials. List your profiles with: aws configure list-profiles; set one up with: aws configure --profile ${profile} (or aws configure sso). ${CHECK_IDENTITY} --profile ${profile}`;
    }
    return `No AWS credentials were found. Run aws configure (access keys) or aws sso login (IAM Identity Center), or pass --profile NAME or set AWS_PROFILE. ${CHECK_IDENTITY}`;
  }
  if (CREDENTIALS_REFUSED.has(code)) {
    return `AWS refused the credentials (${message.trim()}): they are wrong or expired. Refresh them (aws sso login, or new access keys with aws configure), then run the same command again. ${CHECK_IDENTITY}`;
  }
  return undefined;
}

/**
 * The IAM action AWS names in a refusal, when it does: "User: arn:... is not
 * authorized to perform: iam:CreateRole on resource: ... because no
 * identity-based policy allows the iam:CreateRole action".
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
 */
export function deniedAction(message: string): { action: string; explicit: boolean } | undefined {
  const action = /is not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9*]+)/.exec(message)?.[1];
  return action === undefined ? undefined : { action, explicit: /with an explicit deny/i.test(message) };
}

function accessDeniedHint(permission: string, message: string): string {
  const named = deniedAction(message);
  if (named?.explicit) {
    return `AWS names ${named.action}, refused by an explicit deny (${/in an? ([\w -]+?policy)/i.exec(message)?.[1] ?? "a policy"}): granting it to your identity will not help; ask whoever manages that policy, or run with a profile it does not cover.`;
  }
  return `Grant ${named?.action ?? permission} to your deploy identity (the whole list is deploy/deployer-policy.json), or run with a profile that has it.`;
}

/** AWS's codes for a quota reached (a count of resources) or a request rate exceeded after the SDK's retries. */
const QUOTA = new Set(["LimitExceeded", "LimitExceededException", "ServiceQuotaExceededException", "TooManyRequestsException", "ThrottlingException", "Throttling", "SlowDown", "RequestLimitExceeded", "TrailQuotaExceeded", "MaximumNumberOfTrailsExceededException"]);
const THROTTLED = new Set(["TooManyRequestsException", "ThrottlingException", "Throttling", "SlowDown", "RequestLimitExceeded"]);

/** Service Quotas' service codes by IAM action prefix; others go to the console's service list. */
const QUOTA_SERVICE: Record<string, string> = { iam: "iam", lambda: "lambda", apigateway: "apigateway", s3: "s3", kms: "kms", logs: "logs", cloudtrail: "cloudtrail" };

/**
 * Which quota, and where to raise it: the Service Quotas console of the
 * service the call belongs to.
 * https://docs.aws.amazon.com/servicequotas/latest/userguide/request-quota-increase.html
 */
export function quotaHint(code: string, message: string, permission: string, attempts?: number): string {
  const service = QUOTA_SERVICE[permission.split(":")[0] ?? ""];
  const where = `https://console.aws.amazon.com/servicequotas/home/services/${service ?? ""}${service ? "/quotas" : ""}`;
  const aws = message.trim() ? ` (AWS: ${message.trim()})` : "";
  const quota = /quota for (\w+)/i.exec(message)?.[1];
  if (THROTTLED.has(code)) {
    return `AWS kept refusing ${permission} for its request rate${attempts ? ` after ${attempts} attempts` : ""}${aws}. Wait a minute and run the same command again (AWS_MAX_ATTEMPTS allows more retries); if other tools share the account's rate, the ${service ?? "service"} request-rate quotas are at ${where}`;
  }
  return `The ${quota ? `${service ?? "service"} quota ${quota}` : `quota of ${service ?? "the service"}`} is reached${aws}. Free some (remove what you no longer use), or request an increase in the Service Quotas console (in the stack's region): ${where}`;
}

/**
 * Runs one AWS call for a resource step and turns a failure into a DeployError.
 * `permission` is the IAM action the call needs, named in the message when
 * AWS refuses it (unless AWS names the action itself).
 */
export async function step<T>(action: string, resource: string, name: string, permission: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof DeployError) throw e;
    const code = errorName(e);
    const message = (e as Error).message ?? "";
    const attempts = (e as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    const hint =
      credentialsHint(code, message) ??
      (ACCESS_DENIED.has(code)
        ? accessDeniedHint(permission, message)
        : QUOTA.has(code)
          ? quotaHint(code, message, permission, attempts)
          : `${message} Fix the cause and run the same command again: it picks up where it stopped.`.trim());
    throw new DeployError(action, resource, name, code, hint, { cause: e });
  }
}
