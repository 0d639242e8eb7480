// What to do when a run against --endpoint-url (moto, LocalStack) fails where
// AWS would not: the emulator lacks something a real account has. Only with an
// endpoint; against AWS itself the step's own message stands.
import { DeployError, errorName } from "./errors.ts";

/** The AWS-managed policies' ARNs: arn:PARTITION:iam::aws:policy/... */
const AWS_MANAGED_POLICY = /arn:[\w-]+:iam::aws:policy\/[\w/+=,.@-]+/;

export function emulatorHint(e: unknown, endpoint: string | undefined): string | undefined {
  if (endpoint === undefined || !(e instanceof DeployError)) return undefined;
  const cause = (e.cause as Error | undefined)?.message ?? "";
  // moto_server loads AWS's managed policies only when asked; a real account always has them.
  const policy = AWS_MANAGED_POLICY.exec(cause)?.[0];
  if (/^NoSuchEntity/.test(e.code) && policy !== undefined) {
    return `The endpoint ${endpoint} does not know the AWS-managed policy ${policy}. If it is moto, restart it with them loaded: MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -p PORT, then run the same command again.`;
  }
  // moto applies every bucket's DenyInsecureTransport statement without its
  // aws:SecureTransport condition (over http and https alike), so it refuses
  // deleting objects that AWS, over TLS, would delete.
  if (e.action === "deleting the objects of" && (e.code === "AccessDenied" || errorName(e.cause) === "AccessDenied")) {
    return `The buckets refuse requests without TLS (their DenyInsecureTransport statement); moto enforces that deny without its condition, so it refuses these deletes even over https. For a local test endpoint, lift the policy and run the same command again: aws s3api delete-bucket-policy --bucket ${e.resourceName} --endpoint-url ${endpoint}`;
  }
  return undefined;
}
