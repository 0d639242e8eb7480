// cdn.enabled on moto, with the CloudFront stand-in (test/support/aws-rules/
// cloudfront.ts) for what moto lacks: deploy makes the distribution with both
// origins protected, the cache policy, the edge function and its association;
// a second deploy sends nothing; a run stopped before each new kind of call
// is finished by the next; drift is one UpdateDistribution; teardown disables,
// waits and deletes, or leaves it disabled at the wait's bound for the next run.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import {
  DescribeFunctionCommand, GetCachePolicyCommand, GetDistributionConfigCommand, GetFunctionCommand, GetOriginAccessControlCommand,
  ListCachePoliciesCommand, ListDistributionsCommand, ListKeyGroupsCommand, ListOriginAccessControlsCommand, ListPublicKeysCommand, UpdateDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { DescribeKeyCommand, GetKeyPolicyCommand } from "@aws-sdk/client-kms";
import { GetFunctionCommand as GetLambdaCommand } from "@aws-sdk/client-lambda";
import { GetBucketPolicyCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { GetRolePolicyCommand } from "@aws-sdk/client-iam";
import { ListCertificatesCommand } from "@aws-sdk/client-acm";
import { CreateHostedZoneCommand, ListResourceRecordSetsCommand } from "@aws-sdk/client-route-53";
import { parseConfig } from "../config/load.ts";
import type { Config, ConfigInput } from "../config/schema.ts";
import { createClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import type { StepReport } from "../deploy/context.ts";
import { resourceNames } from "../deploy/names.ts";
import { CACHING_OPTIMIZED } from "../deploy/resources/cdn-distribution-config.ts";
import { EDGE_FUNCTION_CODE } from "../function/cdn/edge-function.ts";
import { lambdaRolePolicyName } from "../deploy/resources/lambda-role.ts";
import { deploy } from "../deploy/run.ts";
import { CDN_ORIGIN_HEADER } from "../function/cdn/cdn-env.ts";
import { CDN_SIGNING_KEY_OBJECT } from "../function/storage/key-layout.ts";
import { teardown } from "../teardown/run.ts";
import { cloudFrontStandIn, type CloudFrontStandIn } from "./support/aws-rules/cloudfront.ts";
import { acmDnsValidation } from "./support/aws-rules/cdn.ts";
import { ruleContext } from "./support/aws-rules/kit.ts";
import { tlsObject } from "./support/aws-rules/tls-object.ts";
import { virtualClock } from "./support/clock.ts";
import { fakeZip } from "./support/fake-zip.ts";
import { startFaultProxy, type FaultProxy } from "./support/fault-proxy.ts";
import { everyK, interruptionPoints } from "./support/interruptions.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";

const ACCOUNT = "123456789012";
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8")) as ConfigInput;
const configOf = (cdn: boolean): Config => parseConfig({ ...example, cdn: { enabled: cdn } });
const CDN = configOf(true);
const PLAIN = configOf(false);
const names = resourceNames(CDN.stackName, ACCOUNT, MOTO_REGION);
const ZIP = fakeZip();

let moto: Moto;
let proxy: FaultProxy;
let cf: CloudFrontStandIn;
let clients: AwsClients;
let reader: AwsClients;
let sent: string[] = [];
let failAfter: number | undefined;
const mutating = (calls: string[]) => calls.filter((n) => !isReadOnly(n.split(":")[1]!));

before(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  const common = { region: MOTO_REGION, endpoint: proxy.url, credentials: MOTO_CREDENTIALS, maxAttempts: 1 };
  clients = createClients({ ...common, observer: (service, command) => {
    const name = `${service}:${command.replace(/Command$/, "")}`;
    if (failAfter !== undefined && !isReadOnly(command.replace(/Command$/, "")) && mutating(sent).length >= failAfter) throw new Error(`injected failure before mutating call ${failAfter + 1} (${name})`);
    sent.push(name);
  } });
  reader = createClients(common);
});
after(async () => {
  await proxy?.close();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  proxy.clear();
  cf = cloudFrontStandIn();
  const rules = ruleContext(proxy);
  cf.install(rules);
  // ACM issues a DNS-validated certificate once its record is in the zone (moto never does).
  acmDnsValidation().install(rules);
  tlsObject(proxy, names.imagesBucket, CDN_SIGNING_KEY_OBJECT);
});

async function run(config: Config) {
  sent = [];
  const steps: StepReport[] = [];
  const result = await deploy({ config, clients, zip: ZIP, clock: virtualClock(), onStep: (s) => steps.push(s), progress: () => {} });
  return { ...result, steps, mutations: mutating(sent) };
}

async function down(progress: string[] = []) {
  sent = [];
  const result = await teardown({ config: CDN, clients, clock: virtualClock(), progress: (m) => progress.push(m) });
  return { ...result, mutations: mutating(sent) };
}

/** Everything the CDN is made of, read back through the stand-in. */
async function cdnState() {
  const cloudfront = reader.cloudfront;
  const dists = (await cloudfront.send(new ListDistributionsCommand({}))).DistributionList?.Items ?? [];
  const mine = dists.filter((d) => d.Comment === `${names.stack} images`);
  const policies = (await cloudfront.send(new ListCachePoliciesCommand({ Type: "custom" }))).CachePolicyList?.Items ?? [];
  const fn = await cloudfront.send(new DescribeFunctionCommand({ Name: `${names.stack}-accept` })).catch(() => undefined);
  const groups = (await cloudfront.send(new ListKeyGroupsCommand({}))).KeyGroupList?.Items ?? [];
  const keys = (await cloudfront.send(new ListPublicKeysCommand({}))).PublicKeyList?.Items ?? [];
  const oacs = (await cloudfront.send(new ListOriginAccessControlsCommand({}))).OriginAccessControlList?.Items ?? [];
  return { mine, policies, fn, groups, keys, oacs };
}

async function distributionConfig() {
  const { mine } = await cdnState();
  assert.equal(mine.length, 1, "one distribution");
  const got = await reader.cloudfront.send(new GetDistributionConfigCommand({ Id: mine[0]!.Id }));
  return { id: mine[0]!.Id!, domain: mine[0]!.DomainName!, config: got.DistributionConfig!, etag: got.ETag! };
}

async function functionEnv() {
  return (await reader.lambda.send(new GetLambdaCommand({ FunctionName: names.functionName }))).Configuration?.Environment?.Variables ?? {};
}

test("cdn on: HTTPS-only viewers, both origins and how they are protected, the cache key, the edge function on the API behaviors; a second deploy sends nothing", async () => {
  const first = await run(CDN);
  const { id, domain, config } = await distributionConfig();
  const arn = `arn:aws:cloudfront::${ACCOUNT}:distribution/${id}`;
  const behaviors = [{ PathPattern: "default", ...config.DefaultCacheBehavior! }, ...(config.CacheBehaviors?.Items ?? [])];
  assert.deepEqual(behaviors.map((b) => [b.PathPattern, b.TargetOriginId, b.ViewerProtocolPolicy, b.Compress]), [
    ["default", "api", "https-only", false], ["/public/images/*", "api", "https-only", false], ["/resized/*", "bucket", "https-only", false],
  ]);
  assert.deepEqual([config.PriceClass, config.HttpVersion, config.Enabled, config.ViewerCertificate?.CloudFrontDefaultCertificate], ["PriceClass_100", "http2and3", true, true]);

  // The API origin: HTTPS with TLS 1.2 only, and the secret header whose hash the function checks.
  const [api, bucket] = ["api", "bucket"].map((o) => config.Origins!.Items!.find((x) => x.Id === o)!);
  assert.deepEqual([api!.DomainName, api!.OriginPath, api!.CustomOriginConfig?.OriginProtocolPolicy, api!.CustomOriginConfig?.OriginSslProtocols?.Items], [undefined, "/prod", "https-only", ["TLSv1.2"]].map((v, i) => (i === 0 ? api!.DomainName : v)));
  assert.match(api!.DomainName!, /^[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com$/);
  const secret = api!.CustomHeaders?.Items?.find((h) => h.HeaderName === CDN_ORIGIN_HEADER)?.HeaderValue ?? "";
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/, "32 random bytes, base64url");
  const env = await functionEnv();
  assert.deepEqual(
    [env.IMGAPI_CDN_URL, env.IMGAPI_CDN_DISTRIBUTION_ID, env.IMGAPI_CDN_ORIGIN_SHA256],
    [`https://${domain}`, id, createHash("sha256").update(secret).digest("hex")],
  );
  assert.equal(first.outputs.cdnUrl, `https://${domain}`);

  // The bucket origin: signed by the stack's origin access control; readable by this distribution only, resized/ only.
  const oac = await reader.cloudfront.send(new GetOriginAccessControlCommand({ Id: bucket!.OriginAccessControlId }));
  assert.deepEqual(
    [bucket!.DomainName, bucket!.S3OriginConfig?.OriginAccessIdentity, oac.OriginAccessControl?.OriginAccessControlConfig?.SigningBehavior, oac.OriginAccessControl?.OriginAccessControlConfig?.SigningProtocol],
    [`${names.imagesBucket}.s3.us-east-1.amazonaws.com`, "", "always", "sigv4"],
  );
  const bucketPolicy = JSON.parse((await reader.s3.send(new GetBucketPolicyCommand({ Bucket: names.imagesBucket }))).Policy!) as { Statement: Array<{ Sid: string; Resource: string; Condition: unknown }> };
  assert.deepEqual(bucketPolicy.Statement.find((s) => s.Sid === "CloudFrontReadsVariants")?.Condition, { StringEquals: { "AWS:SourceArn": arn } });
  const keyPolicy = JSON.parse((await reader.kms.send(new GetKeyPolicyCommand({ KeyId: (await reader.kms.send(new DescribeKeyCommand({ KeyId: names.kmsAlias }))).KeyMetadata!.KeyId, PolicyName: "default" }))).Policy!) as { Statement: Array<{ Sid: string; Condition: unknown }> };
  assert.deepEqual(keyPolicy.Statement.find((s) => s.Sid === "CloudFrontDecryptsVariants")?.Condition, { StringEquals: { "AWS:SourceArn": arn } });
  const role = JSON.parse(decodeURIComponent((await reader.iam.send(new GetRolePolicyCommand({ RoleName: names.roleName, PolicyName: lambdaRolePolicyName({ names }) }))).PolicyDocument!)) as { Statement: Array<{ Sid: string; Resource: string }> };
  assert.equal(role.Statement.find((s) => s.Sid === "PurgeImagesAtCdn")?.Resource, arn);

  // The cache key: exactly expires, sig and Accept; no cookies, no compression variants.
  const policyId = config.DefaultCacheBehavior!.CachePolicyId!;
  const params = (await reader.cloudfront.send(new GetCachePolicyCommand({ Id: policyId }))).CachePolicy?.CachePolicyConfig?.ParametersInCacheKeyAndForwardedToOrigin;
  assert.deepEqual(
    [params?.QueryStringsConfig?.QueryStrings?.Items, params?.HeadersConfig?.Headers?.Items, params?.CookiesConfig?.CookieBehavior, params?.EnableAcceptEncodingGzip, params?.EnableAcceptEncodingBrotli],
    [["expires", "sig"], ["accept"], "none", false, false],
  );
  assert.deepEqual(behaviors.map((b) => b.CachePolicyId), [policyId, policyId, CACHING_OPTIMIZED]);

  // The edge function: published code is the function side's, on the two API behaviors at viewer request.
  const live = await reader.cloudfront.send(new GetFunctionCommand({ Name: `${names.stack}-accept`, Stage: "LIVE" }));
  assert.equal(Buffer.from(live.FunctionCode!).toString("utf8"), EDGE_FUNCTION_CODE);
  const fnArn = `arn:aws:cloudfront::${ACCOUNT}:function/${names.stack}-accept`;
  assert.deepEqual(behaviors.map((b) => (b.FunctionAssociations?.Items ?? []).map((f) => `${f.EventType} ${f.FunctionARN}`)), [[`viewer-request ${fnArn}`], [`viewer-request ${fnArn}`], []]);

  // /resized/* trusts the stack's key group, whose key is the one stored (encrypted) for the function.
  const { groups, keys } = await cdnState();
  const group = groups.find((g) => g.KeyGroup?.KeyGroupConfig?.Name === `${names.stack}-cdn`)!.KeyGroup!;
  assert.deepEqual(behaviors.map((b) => b.TrustedKeyGroups?.Items ?? []), [[], [], [group.Id]]);
  assert.deepEqual(group.KeyGroupConfig?.Items, [env.IMGAPI_CDN_KEY_PAIR_ID]);
  const stored = await reader.s3.send(new HeadObjectCommand({ Bucket: names.imagesBucket, Key: CDN_SIGNING_KEY_OBJECT }));
  const pem = keys.find((k) => k.Id === env.IMGAPI_CDN_KEY_PAIR_ID)!.EncodedKey!.replace(/-----[A-Z ]+-----|\s/g, "");
  assert.equal(pem, stored.Metadata?.["public-key"]);

  assert.deepEqual((await run(CDN)).mutations, []);
});

test("drift: viewers allowed plain HTTP by hand is repaired with one UpdateDistribution (naming the current version)", async () => {
  await run(CDN);
  const { id, config, etag } = await distributionConfig();
  const loose = { ...config, DefaultCacheBehavior: { ...config.DefaultCacheBehavior!, ViewerProtocolPolicy: "allow-all" as const } };
  await reader.cloudfront.send(new UpdateDistributionCommand({ Id: id, IfMatch: etag, DistributionConfig: loose }));
  sent = [];
  const planned = await deploy({ config: CDN, clients, zip: ZIP, dryRun: true, clock: virtualClock(), progress: () => {} });
  assert.deepEqual([mutating(sent), planned.resources.find((r) => r.resource === "CloudFront distribution")?.detail], [[], "default"], "a dry run names the drift and sends nothing");
  const repaired = await run(CDN);
  assert.deepEqual(repaired.mutations, ["cloudfront:UpdateDistribution"]);
  assert.equal((await distributionConfig()).config.DefaultCacheBehavior?.ViewerProtocolPolicy, "https-only");
  assert.deepEqual((await run(CDN)).mutations, []);
});

test("teardown disables, waits until deployed and deletes the distribution, then what it used; a second teardown changes nothing", async () => {
  await run(CDN);
  const progress: string[] = [];
  const first = await down(progress);
  assert.ok(first.mutations.indexOf("cloudfront:UpdateDistribution") < first.mutations.indexOf("cloudfront:DeleteDistribution"));
  assert.ok(progress.some((p) => /waiting for CloudFront to deploy the disabled distribution/.test(p)), progress.join("\n"));
  const state = await cdnState();
  assert.deepEqual([state.mine.length, state.policies.length, state.fn, state.groups.length, state.keys.length, state.oacs.length], [0, 0, undefined, 0, 0, 0]);
  const again = await down();
  assert.deepEqual(again.mutations, []);
});

test("cdn.domain with its zone: the distribution serves the alias with the us-east-1 certificate (SNI, TLS 1.2_2021), the zone points the domain at it, and the function's URLs use the domain; a second deploy sends nothing", async () => {
  const domain = "img.example.com";
  const zone = await reader.route53.send(new CreateHostedZoneCommand({ Name: domain, CallerReference: `zone-${Date.now()}` }));
  // moto's zone ids lack the documented "Z" prefix the schema asks for: set after parsing.
  const withDomain: Config = { ...CDN, cdn: { ...CDN.cdn, domain, hostedZoneId: zone.HostedZone!.Id!.replace(/^\/hostedzone\//, "") } };
  await run(withDomain);
  const { config, domain: distributionDomain } = await distributionConfig();
  assert.deepEqual(config.Aliases?.Items, [domain]);
  const certificates = (await reader.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? [];
  assert.deepEqual(certificates.map((c) => c.DomainName), [domain]);
  assert.match(certificates[0]!.CertificateArn!, /^arn:aws:acm:us-east-1:/, "CloudFront takes certificates from us-east-1 only");
  assert.deepEqual(
    [config.ViewerCertificate?.ACMCertificateArn, config.ViewerCertificate?.SSLSupportMethod, config.ViewerCertificate?.MinimumProtocolVersion, config.ViewerCertificate?.CloudFrontDefaultCertificate],
    [certificates[0]!.CertificateArn, "sni-only", "TLSv1.2_2021", false],
  );
  const records = (await reader.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: withDomain.cdn.hostedZoneId! }))).ResourceRecordSets ?? [];
  for (const type of ["A", "AAAA"]) {
    assert.deepEqual(records.filter((r) => r.Type === type).map((r) => [r.Name, r.AliasTarget?.DNSName]), [[`${domain}.`, distributionDomain]], type);
  }
  assert.equal((await functionEnv()).IMGAPI_CDN_URL, `https://${domain}`);
  assert.deepEqual((await run(withDomain)).mutations, []);
});

test("a teardown whose wait passes its bound leaves the distribution disabled, says to run again, and the next run finishes", async () => {
  await run(CDN);
  cf.deployReads = Number.MAX_SAFE_INTEGER;
  const held = await down();
  const line = held.resources.find((r) => r.resource === "CloudFront distribution");
  assert.equal(line?.action, "kept");
  assert.match(line?.detail ?? "", /run teardown again/);
  assert.deepEqual(held.resources.filter((r) => r.resource.startsWith("CDN ") || r.resource.startsWith("CloudFront ")).map((r) => r.action), ["kept", "kept", "kept", "kept", "kept"]);
  const { config } = await distributionConfig();
  assert.equal(config.Enabled, false, "left disabled");
  assert.ok(!held.mutations.includes("cloudfront:DeleteDistribution"));
  cf.settle();
  cf.deployReads = 1;
  await down();
  assert.deepEqual((await cdnState()).mine, []);
});

test("a first deploy with the CDN stopped before each new kind of call is finished by the next run, which reaches the same CDN", async (t) => {
  const plainKinds = new Set((await run(PLAIN)).mutations);
  const transition = (await run(CDN)).mutations;
  const created = transition.indexOf("cloudfront:CreateDistributionWithTags");
  // The first call of each kind the CDN adds (the private key's object, the CloudFront resources), and
  // the first after the distribution exists (the policies naming it); the others are the stack's usual kinds.
  const added = (call: string) => (call.startsWith("cloudfront:") || call === "s3:PutObject") && !plainKinds.has(call);
  const points = interruptionPoints(transition).filter((k) => everyK || (added(transition[k]!) && transition.indexOf(transition[k]!) === k) || k === created + 1);
  t.diagnostic(`${transition.length} mutating calls, interrupted before ${points.length}: ${points.map((k) => transition[k]).join(", ")}`);
  for (const k of points) {
    await run(PLAIN);
    cf.settle();
    failAfter = k;
    try {
      await assert.rejects(run(CDN), /injected failure/, `k=${k}`);
    } finally {
      failAfter = undefined;
    }
    await run(CDN);
    const { config } = await distributionConfig();
    const env = await functionEnv();
    assert.equal(env.IMGAPI_CDN_DISTRIBUTION_ID !== undefined && createHash("sha256").update(config.Origins!.Items!.find((o) => o.Id === "api")!.CustomHeaders!.Items![0]!.HeaderValue!).digest("hex") === env.IMGAPI_CDN_ORIGIN_SHA256, true, `k=${k}: the function knows the distribution's secret`);
    const state = await cdnState();
    assert.deepEqual([state.groups.length, state.keys.length, state.oacs.length, state.policies.length, state.fn?.FunctionSummary?.Name], [1, 1, 1, 1, `${names.stack}-accept`], `k=${k}: one of each`);
    assert.deepEqual((await run(CDN)).mutations, [], `k=${k}: converged`);
  }
});
