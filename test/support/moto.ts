// Moto in server mode for the suites that need AWS: started on a free loopback
// port, reset between tests, stopped at the end. Uses `moto_server` from PATH;
// where there is none, installs moto[server] into a git-ignored .venv first.
// Clients reach it through a thin layer (the fault proxy with standing rules)
// that answers the few read-only calls moto does not implement, as a typical
// account would: see MOTO_GAPS.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { restJsonError, startFaultProxy, type FaultRule, type ProxiedRequest } from "./fault-proxy.ts";
import { MOTO_KEY_GAPS } from "./moto-key-tags.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const VENV = join(ROOT, ".venv");

export interface Moto {
  /** Where clients send requests: the gap layer in front of moto. */
  endpoint: string;
  /** moto itself, without the gap layer. */
  motoEndpoint: string;
  port: number;
  /** Wipes every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Fake credentials: moto accepts any, and they keep the SDK off the real chain. */
export const MOTO_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" };
export const MOTO_REGION = "us-east-1";

export function clientConfig(moto: Pick<Moto, "endpoint">) {
  return { endpoint: moto.endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS };
}

export function s3ClientConfig(moto: Pick<Moto, "endpoint">) {
  return { ...clientConfig(moto), forcePathStyle: true };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/** The moto_server binary: from PATH, else from (a freshly made) .venv. */
export function motoServerCommand(): string {
  if (onPath("moto_server")) return "moto_server";
  const venvBin = join(VENV, "bin", "moto_server");
  if (existsSync(venvBin)) return venvBin;
  console.error("# moto_server not found: installing moto[server] into .venv (one time)");
  const mk = spawnSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
  if (mk.status !== 0) throw new Error("python3 -m venv failed: install Python 3 with venv, or put moto_server on PATH");
  const pip = spawnSync(join(VENV, "bin", "pip"), ["install", "--quiet", "moto[server]>=5.1,<6"], { stdio: "inherit" });
  if (pip.status !== 0) throw new Error("pip install moto[server] failed: install it yourself (pip install 'moto[server]') and retry");
  return venvBin;
}

async function waitUntilUp(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms`);
}

/** A typical account's Lambda quotas (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
export const ACCOUNT_CONCURRENCY = { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 };

/** A read through this same layer to moto, signed for API Gateway so moto routes it there (moto checks no signature). */
async function apiGatewayRead(req: ProxiedRequest, path: string): Promise<{ status: number; body: unknown }> {
  const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1] ?? MOTO_REGION;
  const res = await fetch(`http://${req.headers.host}${path}`, {
    headers: { Authorization: `AWS4-HMAC-SHA256 Credential=testing/20250101/${region}/apigateway/aws4_request, SignedHeaders=host, Signature=0` },
  });
  return { status: res.status, body: res.ok ? await res.json() : undefined };
}

/** Calls moto 5 does not implement (it answers 404 HTML), or fails on with a 500 where AWS answers an error, answered as AWS documents them. */
export const MOTO_GAPS: FaultRule[] = [
  {
    // moto has no cache policies (nor CloudFront Functions, below): an account
    // without any has none to list. Deploy lists them to retire the CDN's
    // (cdn.enabled false); test/support/aws-rules/cloudfront.ts emulates them.
    // https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ListCachePolicies.html
    name: "moto gap: cloudfront ListCachePolicies",
    match: { service: "cloudfront", method: "GET", path: /^\/2020-05-31\/cache-policy$/ },
    fault: { kind: "respond", status: 200, headers: { "Content-Type": "text/xml" }, body: '<?xml version="1.0" encoding="UTF-8"?>\n<CachePolicyList xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><MaxItems>100</MaxItems><Quantity>0</Quantity></CachePolicyList>' },
    times: Infinity,
  },
  {
    // https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DescribeFunction.html
    name: "moto gap: cloudfront DescribeFunction",
    match: { service: "cloudfront", method: "GET", path: /^\/2020-05-31\/function\/[^/]+\/describe$/ },
    fault: { kind: "respond", status: 404, headers: { "Content-Type": "text/xml" }, body: '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>NoSuchFunctionExists</Code><Message>The function does not exist.</Message></Error><RequestId>moto-gap</RequestId></ErrorResponse>' },
    times: Infinity,
  },
  {
    name: "moto gap: lambda GetAccountSettings",
    match: { service: "lambda", method: "GET", path: /^\/2016-08-19\/account-settings\/?$/ },
    fault: {
      kind: "respond",
      status: 200,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        AccountLimit: { TotalCodeSize: 80_530_636_800, CodeSizeUnzipped: 262_144_000, CodeSizeZipped: 52_428_800, ...ACCOUNT_CONCURRENCY },
        AccountUsage: { TotalCodeSize: 0, FunctionCount: 0 },
      }),
    },
    times: Infinity,
  },
  {
    // moto fails with a 500 (an HTML page) deleting an API that is not there;
    // AWS answers NotFoundException, as for any call on an unknown API id
    // ("Invalid API identifier specified ACCOUNT:ID"). A DELETE retried after
    // its answer was lost meets exactly this.
    // https://docs.aws.amazon.com/apigateway/latest/api/API_DeleteRestApi.html
    name: "moto gap: apigateway DeleteRestApi of a missing API",
    match: { service: "apigateway", method: "DELETE", path: /^\/restapis\/[^/]+\/?$/ },
    fault: async (req) => {
      const id = req.path.split("/")[2]!;
      if ((await apiGatewayRead(req, `/restapis/${id}`)).status !== 404) return undefined;
      return restJsonError(404, "NotFoundException", `Invalid API identifier specified 123456789012:${id}`);
    },
    times: Infinity,
  },
  {
    // The same for a usage plan: moto's KeyError becomes a 500.
    // https://docs.aws.amazon.com/apigateway/latest/api/API_DeleteUsagePlan.html
    name: "moto gap: apigateway DeleteUsagePlan of a missing plan",
    match: { service: "apigateway", method: "DELETE", path: /^\/usageplans\/[^/]+\/?$/ },
    fault: async (req) => {
      const id = req.path.split("/")[2]!;
      if ((await apiGatewayRead(req, `/usageplans/${id}`)).status !== 404) return undefined;
      return restJsonError(404, "NotFoundException", "Invalid Usage Plan ID specified");
    },
    times: Infinity,
  },
  {
    // Removing an API stage the plan does not have: moto's ValueError becomes
    // a 500; AWS refuses with BadRequestException "Invalid API Stage
    // specified" (as reported in boto/boto3#2629).
    // https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateUsagePlan.html
    name: "moto gap: apigateway UpdateUsagePlan removing a stage it does not have",
    match: { service: "apigateway", method: "PATCH", path: /^\/usageplans\/[^/]+\/?$/ },
    fault: async (req) => {
      const ops = (JSON.parse(req.body.toString("utf8") || "{}") as { patchOperations?: Array<{ op?: string; path?: string; value?: string }> }).patchOperations ?? [];
      const removed = ops.filter((o) => o.op === "remove" && o.path === "/apiStages").map((o) => o.value);
      if (removed.length === 0) return undefined;
      const plan = await apiGatewayRead(req, `/usageplans/${req.path.split("/")[2]}`);
      const stages = ((plan.body as { apiStages?: Array<{ apiId: string; stage: string }> } | undefined)?.apiStages ?? []).map((s) => `${s.apiId}:${s.stage}`);
      return removed.every((v) => stages.includes(v ?? "")) ? undefined : restJsonError(400, "BadRequestException", "Invalid API Stage specified");
    },
    times: Infinity,
  },
  {
    // moto names WAF's "already exists" WafV2DuplicateItem; AWS names it
    // WAFDuplicateItemException, which deploy reads (a lost CreateWebACL answer).
    // https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html#API_CreateWebACL_Errors
    name: "moto gap: wafv2 duplicate item error name",
    match: { service: "wafv2", operation: /^Create/ },
    fault: {
      kind: "rewrite",
      rewrite: (answer) => {
        if (!answer.body.toString("utf8").includes('"WafV2DuplicateItem"')) return answer;
        const body = JSON.stringify({ __type: "WAFDuplicateItemException", message: "AWS WAF couldn't perform the operation because some resource in your request is a duplicate of an existing one." });
        const { "x-amzn-errortype": _dropped, ...headers } = answer.headers;
        return { ...answer, headers, body: Buffer.from(body) };
      },
    },
    times: Infinity,
  },
  {
    // moto's Resource Groups Tagging API knows no API Gateway resource. Deploy
    // finds the stack's API keys with it (GetApiKeys would need the right to
    // read every key's value), so GetResources filtered to API keys is
    // answered here from moto's own keys, as AWS documents the call: every
    // TagFilter must match (a key with one of its Values, or any value when
    // none), ARNs arn:aws:apigateway:REGION::/apikeys/ID, tags as Key/Value.
    // https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html
    name: "moto gap: tagging GetResources for apigateway:apikeys",
    match: { service: "tagging", operation: "GetResources" },
    fault: async (req) => {
      const input = JSON.parse(req.body.toString("utf8") || "{}") as { TagFilters?: Array<{ Key: string; Values?: string[] }>; ResourceTypeFilters?: string[] };
      const types = input.ResourceTypeFilters ?? [];
      if (types.length === 0 || types.some((t) => t !== "apigateway:apikeys")) return undefined;
      const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1] ?? MOTO_REGION;
      const listed = await apiGatewayRead(req, "/apikeys?limit=500");
      const keys = (listed.body as { item?: Array<{ id: string; tags?: Record<string, string> }> } | undefined)?.item ?? [];
      const matching = keys.filter((k) => (input.TagFilters ?? []).every((f) => k.tags?.[f.Key] !== undefined && (!f.Values?.length || f.Values.includes(k.tags[f.Key]!))));
      const body = {
        PaginationToken: "",
        ResourceTagMappingList: matching.map((k) => ({ ResourceARN: `arn:aws:apigateway:${region}::/apikeys/${k.id}`, Tags: Object.entries(k.tags ?? {}).map(([Key, Value]) => ({ Key, Value })) })),
      };
      return { kind: "respond", status: 200, headers: { "Content-Type": "application/x-amz-json-1.1" }, body: JSON.stringify(body) };
    },
    times: Infinity,
  },
];

/**
 * moto_server through test/support/moto_server.py: the same server and
 * answers, without the CPU moto spends on work no answer depends on (AWS's
 * managed policies rebuilt at every reset, its package directory listed at
 * every request, ...: over half its CPU in the deploy suites). It runs on the
 * Python that has moto: the .venv's, else python3 from PATH, and where that
 * one has no moto the script runs the plain moto_server itself.
 */
function motoLaunch(): { command: string; args: string[] } {
  const server = motoServerCommand();
  // IMGAPI_PYTHON: python3 resolved once by scripts/test.mjs. Through a
  // version manager's shim (pyenv's is a chain of bash scripts) every start
  // costs about half a second of CPU, and the suites start moto ~50 times.
  const python = server === "moto_server" ? (process.env.IMGAPI_PYTHON ?? (onPath("python3") ? "python3" : undefined)) : join(VENV, "bin", "python");
  const script = join(ROOT, "test", "support", "moto_server.py");
  return python ? { command: python, args: [script] } : { command: server, args: [] };
}

export async function startMoto(): Promise<Moto> {
  const { command, args } = motoLaunch();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(command, [...args, "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    // Real accounts have the AWS-managed policies (the API Gateway logs role
    // attaches one); moto loads them only when asked.
    env: { ...process.env, AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_DEFAULT_REGION: MOTO_REGION, MOTO_IAM_LOAD_MANAGED_POLICIES: "true" },
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    await waitUntilUp(endpoint, child, 60_000);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  const gaps = await startFaultProxy(endpoint);
  for (const rule of [...MOTO_GAPS, ...MOTO_KEY_GAPS]) gaps.inject(rule);
  return {
    endpoint: gaps.url,
    motoEndpoint: endpoint,
    port,
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
      if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
    },
    async stop() {
      await gaps.close();
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}
