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
 * Runs one AWS call for a resource step and turns a failure into a DeployError.
 * `permission` is the IAM action the call needs, named in the message when
 * AWS refuses it.
 */
export async function step<T>(action: string, resource: string, name: string, permission: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof DeployError) throw e;
    const code = errorName(e);
    const hint = credentialsHint(code, (e as Error).message ?? "") ?? (ACCESS_DENIED.has(code)
      ? `Grant ${permission} to your deploy identity (see deploy/deployer-policy.json), or run with a profile that has it.`
      : `${(e as Error).message ?? ""} Fix the cause and run the same command again: it picks up where it stopped.`.trim());
    throw new DeployError(action, resource, name, code, hint, { cause: e });
  }
}
