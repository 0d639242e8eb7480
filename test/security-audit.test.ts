// A security audit of what the deploy really makes (on moto, with a stand-in
// function zip) and of what the local server answers. Every check that fails
// is a finding; the suite passes only with zero findings.
//   - the function's role: no wildcard action, no "*" resource, nothing attached
//   - the API: every private method guarded (API key, or AWS_IAM), OPTIONS open
//   - the buckets: public access blocked, TLS-only, encrypted with the project key
//   - the key rotates; the trail validates log files and is logging
//   - the function's invoke permission is scoped to this API
//   (every AWS call a deploy and a teardown --delete-data make is checked
//   against deploy/deployer-policy*.json by a real policy engine in
//   test/policy-moto.test.ts)
//   - over HTTP: no key, a wrong key, a key in the query string: 403; no
//     answer or log line echoes the key; no error shows a stack or a bucket
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { GetMethodCommand, GetResourcesCommand, GetRestApisCommand, GetUsagePlansCommand } from "@aws-sdk/client-api-gateway";
import { GetTrailCommand, GetTrailStatusCommand } from "@aws-sdk/client-cloudtrail";
import { GetRoleCommand, GetRolePolicyCommand, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from "@aws-sdk/client-iam";
import { GetKeyPolicyCommand, GetKeyRotationStatusCommand } from "@aws-sdk/client-kms";
import { GetPolicyCommand } from "@aws-sdk/client-lambda";
import { DeleteBucketCommand, DeleteBucketPolicyCommand, DeleteObjectsCommand, GetBucketEncryptionCommand, GetBucketOwnershipControlsCommand, GetBucketPolicyCommand, GetPublicAccessBlockCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createClients, destroyClients, type AwsClients } from "../deploy/aws-clients.ts";
import { resourceNames } from "../deploy/names.ts";
import { deploy, type DeployOutputs } from "../deploy/run.ts";
import { methodAuth, ROUTES } from "../function/routes.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { teardown } from "../teardown/run.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";
import { virtualClock } from "./support/clock.ts";
import { fakeZip } from "./support/fake-zip.ts";

const ACCOUNT = "123456789012"; // moto's
const ROOT = new URL("..", import.meta.url).pathname;
const example = JSON.parse(readFileSync(join(ROOT, "config.example.json"), "utf8"));

let checks = 0;
const findings: string[] = [];
/** One audit check: counted, and a finding recorded when it does not hold. */
function expect(ok: boolean, finding: string): void {
  checks += 1;
  if (!ok) findings.push(finding);
}


after(() => {
  console.log(`security-audit: ${checks} checks, ${findings.length} findings${findings.length > 0 ? `:\n  ${findings.join("\n  ")}` : ""}`);
});

// ---- the deployed stack, on moto ------------------------------------------------------

let moto: Moto;

before(async () => {
  moto = await startMoto();
});

after(async () => {
  await moto?.stop();
});

async function auditStack(config: Config, outputs: DeployOutputs, clients: AwsClients): Promise<void> {
  const names = resourceNames(config.stackName, ACCOUNT, MOTO_REGION);
  const where = `${config.stackName} (auth ${config.auth})`;

  // The function's role.
  const role = (await clients.iam.send(new GetRoleCommand({ RoleName: names.roleName }))).Role!;
  const trust = JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument ?? "{}")) as { Statement: Array<{ Principal?: { Service?: unknown }; Action?: unknown }> };
  expect(trust.Statement.length === 1 && JSON.stringify(trust.Statement[0]!.Principal) === JSON.stringify({ Service: "lambda.amazonaws.com" }), `${where}: the role's trust policy lets more than Lambda assume it: ${JSON.stringify(trust)}`);
  const attached = (await clients.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: names.roleName }))).AttachedPolicies ?? [];
  expect(attached.length === 0, `${where}: managed policies attached to the function's role: ${attached.map((p) => p.PolicyName).join(", ")}`);
  const policyNames = (await clients.iam.send(new ListRolePoliciesCommand({ RoleName: names.roleName }))).PolicyNames ?? [];
  expect(policyNames.length === 1, `${where}: ${policyNames.length} inline policies on the role`);
  for (const PolicyName of policyNames) {
    const doc = JSON.parse(decodeURIComponent((await clients.iam.send(new GetRolePolicyCommand({ RoleName: names.roleName, PolicyName }))).PolicyDocument ?? "{}")) as {
      Statement: Array<Record<string, unknown>>;
    };
    for (const s of [doc.Statement].flat()) {
      const label = `${where}: role policy ${PolicyName}, statement ${String(s.Sid ?? "?")}`;
      expect(s.Effect === "Allow", `${label}: Effect ${String(s.Effect)}`);
      expect(s.NotAction === undefined && s.NotResource === undefined, `${label}: NotAction/NotResource`);
      for (const action of [s.Action ?? []].flat().map(String)) expect(!action.includes("*"), `${label}: wildcard action ${action}`);
      const resources = [s.Resource ?? []].flat().map(String);
      expect(resources.length > 0, `${label}: no Resource`);
      for (const resource of resources) expect(resource !== "*" && !/^arn:aws:[a-z0-9-]+:[^:]*:[^:]*:\*$/.test(resource), `${label}: resource ${resource}`);
    }
  }

  // The API: every method of the routes table, guarded as methodAuth says; OPTIONS open; nothing else.
  const api = ((await clients.apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? []).find((a) => a.name === names.restApi)!;
  expect(api !== undefined, `${where}: no REST API ${names.restApi}`);
  expect((api.apiKeySource ?? "HEADER") === "HEADER", `${where}: API keys are read from ${api.apiKeySource}, not the x-api-key header`);
  const resources = (await clients.apigw.send(new GetResourcesCommand({ restApiId: api.id, limit: 500 }))).items ?? [];
  const seen = new Set<string>();
  for (const r of resources) {
    for (const httpMethod of Object.keys(r.resourceMethods ?? {})) {
      seen.add(`${httpMethod} ${r.path}`);
      const m = await clients.apigw.send(new GetMethodCommand({ restApiId: api.id, resourceId: r.id, httpMethod }));
      const label = `${where}: ${httpMethod} ${r.path}`;
      if (httpMethod === "OPTIONS") {
        expect(!m.apiKeyRequired && m.authorizationType === "NONE", `${label}: the CORS preflight is guarded (browsers send no credentials on it)`);
        continue;
      }
      const route = ROUTES.find((x) => x.method === httpMethod && x.resource === r.path);
      expect(route !== undefined, `${label}: a method that is not in function/routes.ts`);
      if (route === undefined) continue;
      const wanted = methodAuth(route, config.auth);
      expect((m.apiKeyRequired ?? false) === wanted.apiKeyRequired && m.authorizationType === wanted.authorizationType, `${label}: apiKeyRequired ${m.apiKeyRequired}, authorization ${m.authorizationType}; wanted ${JSON.stringify(wanted)}`);
      if (route.access === "private") {
        expect(config.auth === "apiKey" ? m.apiKeyRequired === true : m.authorizationType === "AWS_IAM", `${label}: a private route callable without credentials`);
      }
    }
  }
  for (const route of ROUTES) expect(seen.has(`${route.method} ${route.resource}`), `${where}: route ${route.method} ${route.resource} missing from the API`);
  if (config.auth === "apiKey") {
    const plan = ((await clients.apigw.send(new GetUsagePlansCommand({ limit: 500 }))).items ?? []).find((p) => p.name === names.usagePlan);
    expect(plan?.apiStages?.some((s) => s.apiId === api.id && s.stage === names.stage) === true, `${where}: the API key's usage plan is not bound to the stage (keys would not be accepted)`);
    expect(outputs.apiKeyId !== undefined && !JSON.stringify(outputs).includes("value\":"), `${where}: the deploy's outputs carry the API key's value`);
  }

  // The buckets.
  // Each bucket under its own key: images under the images key, audit logs under the audit key.
  for (const [Bucket, keyArn] of [[names.imagesBucket, outputs.keyArn], [names.trailBucket, outputs.auditKeyArn]] as const) {
    const label = `${where}: bucket ${Bucket}`;
    const block = (await clients.s3.send(new GetPublicAccessBlockCommand({ Bucket }))).PublicAccessBlockConfiguration;
    expect(!!block?.BlockPublicAcls && !!block.IgnorePublicAcls && !!block.BlockPublicPolicy && !!block.RestrictPublicBuckets, `${label}: public access not fully blocked: ${JSON.stringify(block)}`);
    const ownership = (await clients.s3.send(new GetBucketOwnershipControlsCommand({ Bucket }))).OwnershipControls?.Rules?.[0]?.ObjectOwnership;
    expect(ownership === "BucketOwnerEnforced", `${label}: ACLs are not disabled (${ownership})`);
    const policy = JSON.parse((await clients.s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy ?? "{}") as { Statement: Array<Record<string, unknown>> };
    const bucketArn = `arn:aws:s3:::${Bucket}`;
    const tlsOnly = policy.Statement.some((s) => {
      const principal = JSON.stringify(s.Principal);
      const actions = [s.Action ?? []].flat().map(String);
      const covered = [s.Resource ?? []].flat().map(String);
      const condition = (s.Condition as { Bool?: Record<string, unknown> } | undefined)?.Bool?.["aws:SecureTransport"];
      return s.Effect === "Deny" && (principal === '"*"' || principal === '{"AWS":"*"}') && actions.includes("s3:*") && covered.includes(bucketArn) && covered.includes(`${bucketArn}/*`) && String(condition) === "false";
    });
    expect(tlsOnly, `${label}: no Deny of every request without TLS`);
    for (const s of policy.Statement.filter((x) => x.Effect === "Allow")) {
      const principal = JSON.stringify(s.Principal);
      expect(principal !== '"*"' && principal !== '{"AWS":"*"}', `${label}: a public Allow statement ${JSON.stringify(s)}`);
    }
    const rule = (await clients.s3.send(new GetBucketEncryptionCommand({ Bucket }))).ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
    expect(rule?.SSEAlgorithm === "aws:kms" && (rule.KMSMasterKeyID === keyArn || keyArn.endsWith(`/${rule.KMSMasterKeyID}`)), `${label}: not encrypted with its key ${keyArn}: ${JSON.stringify(rule)}`);
  }

  // The keys: rotation on, and no key policy statement that lets anyone in.
  for (const keyArn of [outputs.keyArn, outputs.auditKeyArn]) {
    const keyId = keyArn.split("/").pop()!;
    expect((await clients.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled === true, `${where}: rotation is off for ${keyArn}`);
    const keyPolicy = JSON.parse((await clients.kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: "default" }))).Policy ?? "{}") as { Statement: Array<Record<string, unknown>> };
    for (const s of keyPolicy.Statement.filter((x) => x.Effect === "Allow")) {
      const principal = JSON.stringify(s.Principal);
      expect(principal !== '"*"' && principal !== '{"AWS":"*"}', `${where}: the policy of ${keyArn} allows anyone: ${JSON.stringify(s)}`);
    }
  }

  // The trail.
  const trail = (await clients.cloudtrail.send(new GetTrailCommand({ Name: names.trail }))).Trail;
  expect(trail?.LogFileValidationEnabled === true, `${where}: trail log file validation is off`);
  expect(trail?.KmsKeyId === outputs.auditKeyArn, `${where}: trail logs are not encrypted with the audit key (${trail?.KmsKeyId})`);
  expect((await clients.cloudtrail.send(new GetTrailStatusCommand({ Name: names.trail }))).IsLogging === true, `${where}: the trail is not logging`);

  // Who may invoke the function.
  const invoke = JSON.parse((await clients.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName }))).Policy ?? "{}") as { Statement: Array<Record<string, unknown>> };
  const viaApi = invoke.Statement.filter((s) => JSON.stringify(s.Principal).includes("apigateway.amazonaws.com"));
  expect(viaApi.length === 1, `${where}: ${viaApi.length} API Gateway invoke statements`);
  for (const s of invoke.Statement) {
    const sourceArn = String((s.Condition as { ArnLike?: Record<string, unknown> } | undefined)?.ArnLike?.["AWS:SourceArn"] ?? "");
    expect([s.Action].flat().join() === "lambda:InvokeFunction", `${where}: invoke statement ${String(s.Sid)} allows ${JSON.stringify(s.Action)}`);
    if (JSON.stringify(s.Principal).includes("apigateway.amazonaws.com")) {
      expect(sourceArn.startsWith(`arn:aws:execute-api:${MOTO_REGION}:${ACCOUNT}:${api.id}/`), `${where}: API Gateway may invoke the function from ${sourceArn || "any API"}, not only ${api.id}`);
    } else {
      expect(sourceArn !== "", `${where}: invoke statement ${String(s.Sid)} for ${JSON.stringify(s.Principal)} has no SourceArn`);
    }
  }
}

/**
 * Puts an image in the images bucket (with a client that is not recorded), so
 * teardown --delete-data has objects to delete. moto applies the TLS-only Deny
 * without its condition (it would refuse every object call over its plain
 * HTTP), so the policy, audited already, is lifted for the rest of the run.
 */
async function withObjectInImagesBucket(config: Config): Promise<void> {
  const plain = createClients({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
  try {
    const Bucket = resourceNames(config.stackName, ACCOUNT, MOTO_REGION).imagesBucket;
    await plain.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
    await plain.s3.send(new PutObjectCommand({ Bucket, Key: "originals/0b6f5c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f", Body: "image bytes" }));
  } finally {
    destroyClients(plain);
  }
}

describe("the deployed stack (moto)", () => {
  const variants: Array<[string, Record<string, unknown>]> = [
    ["auth apiKey", { auth: "apiKey" }],
    ["auth iam, resizeOnUpload", { auth: "iam", resizeOnUpload: true }],
  ];
  for (const [label, patch] of variants) {
    test(`${label}: deploy from empty, deploy again, teardown --delete-data: the stack audits clean`, async () => {
      await moto.reset();
      const config = parseConfig({ ...example, ...patch });
      const clients = createClients({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
      try {
        await deploy({ config, clients, zip: fakeZip(), clock: virtualClock() });
        // A second run reads every setting back (the first, creating, reads few).
        const { outputs } = await deploy({ config, clients, zip: fakeZip(), clock: virtualClock() });
        await auditStack(config, outputs, clients);
        await withObjectInImagesBucket(config);
        await teardown({ config, clients, deleteData: true });
      } finally {
        destroyClients(clients);
      }
      assert.deepEqual(findings, [], `${findings.length} findings`);
    });
  }
});

// ---- the local server over HTTP ---------------------------------------------------------

describe("the local server", () => {
  let server: LocalServer;
  let dataDir: string;
  const logLines: string[] = [];
  /** Every answer the suite got, headers and body, to search for leaks. */
  const answers: Array<{ what: string; status: number; text: string }> = [];
  let id = "";

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-audit-"));
    server = await startLocalServer({ port: 0, dataDir, log: (line) => logLines.push(line), auth: "apiKey" });
  });

  after(async () => {
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function call(what: string, path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(`${server.url}${path}`, init);
    const body = Buffer.from(await res.clone().arrayBuffer());
    const text = `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${body.toString("latin1")}`;
    answers.push({ what, status: res.status, text });
    return res;
  }

  const key = () => ({ "x-api-key": server.apiKey });
  const photo = () => sharp({ create: { width: 640, height: 480, channels: 3, background: "#48c" } }).jpeg().toBuffer();

  test("no key, a wrong key, or the key anywhere but the x-api-key header: 403 on every private route", async () => {
    const upload = await call("upload", "/images", { method: "POST", body: await photo(), headers: { ...key(), "Content-Type": "image/jpeg" } });
    assert.equal(upload.status, 201);
    id = ((await upload.json()) as { id: string }).id;

    const k = encodeURIComponent(server.apiKey);
    const attempts: Array<[string, string, Record<string, string>]> = [
      ["no key", "", {}],
      ["a wrong key", "", { "x-api-key": "wrong-key-0123456789012345678901234567890" }],
      ["the key with a character changed", "", { "x-api-key": server.apiKey.slice(0, -1) + (server.apiKey.endsWith("A") ? "B" : "A") }],
      ["the key's prefix", "", { "x-api-key": server.apiKey.slice(0, 20) }],
      ["an empty key", "", { "x-api-key": "" }],
      ["?x-api-key=", `?x-api-key=${k}`, {}],
      ["?api_key=", `?api_key=${k}`, {}],
      ["?apiKey=", `?apiKey=${k}`, {}],
      ["?key=", `?key=${k}`, {}],
      ["Authorization: Bearer", "", { Authorization: `Bearer ${server.apiKey}` }],
      ["Authorization: the key", "", { Authorization: server.apiKey }],
      ["a cookie", "", { Cookie: `x-api-key=${server.apiKey}` }],
      ["X-Api-Key-Id", "", { "X-Api-Key-Id": server.apiKey }],
    ];
    const privateRoutes = ROUTES.filter((r) => r.access === "private");
    for (const route of privateRoutes) {
      const path = route.resource.replace("{id}", id).replace("{size}", "thumbnail");
      for (const [what, query, headers] of attempts) {
        const res = await call(`${route.method} ${route.resource}: ${what}`, `${path}${query}`, {
          method: route.method,
          headers: { ...headers, ...(route.method === "POST" ? { "Content-Type": "image/jpeg" } : {}) },
          ...(route.method === "POST" ? { body: await photo() } : {}),
        });
        expect(res.status === 403, `${route.method} ${route.resource} with ${what}: ${res.status}, not 403`);
        await res.arrayBuffer();
      }
    }
    // The right key, in any letter case of the header name, gets through.
    const ok = await call("list with X-API-KEY", `/images/${id}`, { headers: { "X-API-KEY": server.apiKey } });
    expect(ok.status === 200, `the right key in X-API-KEY: ${ok.status}`);
    // A preflight needs no key.
    const preflight = await call("preflight", `/images/${id}`, { method: "OPTIONS", headers: { Origin: "https://app.example", "Access-Control-Request-Method": "GET" } });
    expect(preflight.status === 204, `OPTIONS without a key: ${preflight.status}`);
    // Nothing was stored by a refused upload.
    const stored = (await server.s3.client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: "originals/" }))).KeyCount ?? 0;
    expect(stored === 1, `${stored} originals after 1 accepted upload and ${attempts.length} refused`);
    assert.deepEqual(findings, []);
  });

  test("errors say what is wrong without internals, and nothing echoes the key", async () => {
    const errors: Array<[string, string, RequestInit]> = [
      ["bad id", "/images/..%2F..%2Fetc%2Fpasswd", { headers: key() }],
      ["unknown id", "/images/0b6f5c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f", { headers: key() }],
      ["unknown size", `/images/${id}/huge`, { headers: key() }],
      ["not an image", "/images", { method: "POST", body: "not an image", headers: { ...key(), "Content-Type": "image/png" } }],
      ["bad JSON", "/images", { method: "POST", body: "{", headers: { ...key(), "Content-Type": "application/json" } }],
      ["too large for the gateway", "/images", { method: "POST", body: Buffer.alloc(11 * 1024 * 1024), headers: { ...key(), "Content-Type": "image/png" } }],
      ["unknown route", "/admin", { headers: key() }],
      ["a variant", `/images/${id}/medium`, { headers: key() }],
    ];
    for (const [what, path, init] of errors) await (await call(what, path, init)).arrayBuffer();

    // A storage failure: the bucket is gone. The 502 must not name it.
    const listed = await server.s3.client.send(new ListObjectsV2Command({ Bucket: server.bucket }));
    if ((listed.Contents ?? []).length > 0) {
      await server.s3.client.send(new DeleteObjectsCommand({ Bucket: server.bucket, Delete: { Objects: (listed.Contents ?? []).map((o) => ({ Key: o.Key! })) } }));
    }
    await server.s3.client.send(new DeleteBucketCommand({ Bucket: server.bucket }));
    const broken = await call("storage failure", "/images", { method: "POST", body: await photo(), headers: { ...key(), "Content-Type": "image/jpeg" } });
    expect(broken.status === 502, `upload into a missing bucket: ${broken.status}`);
    await broken.arrayBuffer();

    const port = new URL(server.s3.endpoint).port;
    for (const { what, status, text } of answers) {
      expect(!text.includes(server.apiKey), `the answer to "${what}" (${status}) echoes the API key`);
      if (status < 400) continue;
      expect(!text.includes(server.bucket), `the answer to "${what}" (${status}) names the bucket`);
      expect(!/\n\s+at |\.ts:\d+|node_modules|\/work\/|S3rver|NoSuchBucket/.test(text), `the answer to "${what}" (${status}) shows internals: ${text.slice(0, 300)}`);
      expect(!text.includes(`:${port}`), `the answer to "${what}" (${status}) names the S3 endpoint`);
    }
    for (const line of logLines) expect(!line.includes(server.apiKey), `a log line holds the API key: ${line.slice(0, 200)}`);
    console.log(`security-audit: local server: ${answers.length} answers and ${logLines.length} log lines searched`);
    assert.deepEqual(findings, []);
  });
});
