// What every AWS rule is made of: a named object that installs fault rules and
// observers on the fault proxy; countdowns ("the next N calls after X are
// refused") instead of clocks, so a rule fires the same way on every run; and
// the request shapes the rules read (REST paths of Lambda and API Gateway, the
// form parameters of IAM, the JSON bodies of KMS).
import { createClients, destroyClients, type AwsClients } from "../../../deploy/aws-clients.ts";
import type { FaultProxy, MatchSpec, ProxiedRequest } from "../fault-proxy.ts";
import { MOTO_CREDENTIALS } from "../moto.ts";

export interface RuleContext {
  proxy: FaultProxy;
  /** Clients straight to the upstream (moto), for rules that depend on account state. */
  upstream: AwsClients;
  account: string;
  region: string;
  partition: string;
}

export interface AwsRule {
  /** Stable; `proxy.faulted(name)` counts the requests the rule refused or rewrote. */
  name: string;
  /** The AWS page the rule comes from. */
  source: string;
  install(ctx: RuleContext): void;
}

export function ruleContext(proxy: FaultProxy, opts: { account?: string; region?: string } = {}): RuleContext & { close(): void } {
  const region = opts.region ?? "us-east-1";
  const upstream = createClients({ region, endpoint: proxy.upstream, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
  // moto's account; rules only name it in messages and ARNs.
  return { proxy, upstream, account: opts.account ?? "123456789012", region, partition: "aws", close: () => destroyClients(upstream) };
}

/** Per key, how many more calls are refused; armed by an observed create, spent by each refusal. */
export class Countdown {
  private readonly left = new Map<string, number>();
  arm(key: string, n: number): void {
    if (n > 0) this.left.set(key, n);
    else this.left.delete(key);
  }
  armed(key: string): boolean {
    return (this.left.get(key) ?? 0) > 0;
  }
  /** True (and one fewer left) while the key is armed. */
  take(key: string): boolean {
    const n = this.left.get(key) ?? 0;
    if (n <= 0) return false;
    this.arm(key, n - 1);
    return true;
  }
}

export const ok = (status: number) => status >= 200 && status < 300;

export function jsonBody(req: Pick<ProxiedRequest, "body">): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(req.body.toString("utf8") || "{}");
    return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export const formBody = (req: Pick<ProxiedRequest, "body">) => new URLSearchParams(req.body.toString("utf8"));

/** The role name in a role ARN (arn:aws:iam::ACCOUNT:role/path/NAME), else undefined. */
export function roleNameOf(arn: unknown): string | undefined {
  return typeof arn === "string" ? /^arn:[^:]+:iam::\d*:role\/(?:.*\/)?([^/]+)$/.exec(arn)?.[1] : undefined;
}

/** A function's name from a name, a partial or a full ARN (qualifier dropped). */
export function functionNameOf(nameOrArn: string): string {
  return nameOrArn.startsWith("arn:") ? (nameOrArn.split(":")[6] ?? nameOrArn) : (nameOrArn.split(":")[0] ?? nameOrArn);
}

// Lambda is REST-JSON: the SDK names no operation on the wire, so it is told by method and path.
const LAMBDA_ROUTES: Array<[string, RegExp, string]> = [
  ["POST", /^\/2015-03-31\/functions\/?$/, "CreateFunction"],
  ["GET", /^\/2015-03-31\/functions\/([^/]+)\/?$/, "GetFunction"],
  ["GET", /^\/2015-03-31\/functions\/([^/]+)\/configuration\/?$/, "GetFunctionConfiguration"],
  ["PUT", /^\/2015-03-31\/functions\/([^/]+)\/configuration\/?$/, "UpdateFunctionConfiguration"],
  ["PUT", /^\/2015-03-31\/functions\/([^/]+)\/code\/?$/, "UpdateFunctionCode"],
  ["POST", /^\/2015-03-31\/functions\/([^/]+)\/versions\/?$/, "PublishVersion"],
  ["POST", /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/, "Invoke"],
  ["POST", /^\/2015-03-31\/functions\/([^/]+)\/policy\/?$/, "AddPermission"],
  ["PUT", /^\/2017-10-31\/functions\/([^/]+)\/concurrency\/?$/, "PutFunctionConcurrency"],
  ["GET", /^\/2016-08-19\/account-settings\/?$/, "GetAccountSettings"],
];

/** The Lambda operation of a request, and the function it names (by name). */
export function lambdaCall(req: Pick<ProxiedRequest, "service" | "method" | "path">): { op: string; fn: string } | undefined {
  if (req.service !== "lambda") return undefined;
  for (const [method, path, op] of LAMBDA_ROUTES) {
    const m = method === req.method ? path.exec(req.path) : null;
    if (m) return { op, fn: m[1] === undefined ? "" : functionNameOf(m[1]) };
  }
  return undefined;
}

export const lambdaOps = (...ops: string[]): MatchSpec => ({ service: "lambda", where: (r) => ops.includes(lambdaCall(r)?.op ?? "") });

/** An IAM (awsQuery) request's action and parameters. */
export function iamCall(req: ProxiedRequest): { op: string; params: URLSearchParams } {
  const params = formBody(req);
  return { op: params.get("Action") ?? "", params };
}
