// The CDN's custom domain and per-IP rate limit as stack rows ("CDN
// certificate", "CDN rate limit"), on moto behind the CDN's AWS rules
// (test/support/aws-rules/cdn.ts: ACM validates once the record is in DNS, the
// record comes seconds after the request, scope CLOUDFRONT only in us-east-1).
// The stack lives in eu-west-1, so anything made in us-east-1 was sent there on purpose.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import { DescribeCertificateCommand, ListCertificatesCommand, ListTagsForCertificateCommand } from "@aws-sdk/client-acm";
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand } from "@aws-sdk/client-route-53";
import { GetWebACLCommand, ListWebACLsCommand, WAFV2Client } from "@aws-sdk/client-wafv2";
import { parseConfig } from "../config/load.ts";
import type { Config, ConfigInput } from "../config/schema.ts";
import { createClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import { contextFor, type StepReport } from "../deploy/context.ts";
import { DeployError } from "../deploy/errors.ts";
import { ensureCdnAlias } from "../deploy/resources/cdn-dns.ts";
import { cdnWebAclName, RATE_LIMITED_BODY } from "../deploy/resources/cdn-web-acl.ts";
import { STACK, type Built } from "../deploy/stack.ts";
import { acmDnsValidation, acmValidationRecordDelay, ruleContext, wafCloudFrontScopeRegion } from "./support/aws-rules.ts";
import { virtualClock } from "./support/clock.ts";
import { startFaultProxy, jsonError, type FaultProxy } from "./support/fault-proxy.ts";
import { interruptionPoints } from "./support/interruptions.ts";
import { deployerRefusals } from "./support/policy-calls-cdn.ts";
import { scopeOf } from "./support/policy-stack.ts";
import { MOTO_CREDENTIALS, startMoto, type Moto } from "./support/moto.ts";

const REGION = "eu-west-1";
const DOMAIN = "img.example.com";
const DIST = "d111111abcdef8.cloudfront.net";
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8")) as ConfigInput;
const ROWS = ["CDN certificate", "CDN rate limit"].map((t) => STACK.find((s) => s.title === t)!);

let moto: Moto;
let proxy: FaultProxy;
let clients: AwsClients;
/** Straight to moto, in us-east-1: what a user would see in the console. */
let reader: AwsClients;
let calls: Array<{ service: string; command: string; input: Record<string, unknown> }> = [];
let failAfter: number | undefined;
let stacks = 0;
const mutating = () => calls.filter((c) => !isReadOnly(c.command)).map((c) => `${c.service}:${c.command}`);

before(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  const common = { region: REGION, endpoint: proxy.url, credentials: MOTO_CREDENTIALS, maxAttempts: 1 };
  clients = createClients({ ...common, observer: (service, command, input) => {
    const name = command.replace(/Command$/, "");
    if (failAfter !== undefined && !isReadOnly(name) && mutating().length >= failAfter) throw new Error(`injected failure before ${service}:${name}`);
    calls.push({ service, command: name, input: input as Record<string, unknown> });
  } });
  reader = createClients({ ...common, region: "us-east-1", endpoint: moto.endpoint });
});
after(async () => {
  await proxy?.close();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  proxy.clear();
  const rules = ruleContext(proxy);
  for (const rule of [wafCloudFrontScopeRegion(), acmValidationRecordDelay({ describes: 2 }), acmDnsValidation()]) rule.install(rules);
});

async function zone(name = "example.com") {
  return (await reader.route53.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${Date.now()}` }))).HostedZone!.Id!.replace("/hostedzone/", "");
}

/** A stack of its own, and its config with the given cdn block (the zone id is moto's, which lacks AWS's Z prefix). */
function configOf(cdn: { domain?: string; hostedZoneId?: string; rateLimitPerIp?: number }, stackName = `imgapi-cd${++stacks}`): Config {
  const parsed = parseConfig({ ...example, stackName, region: REGION, cdn: { enabled: true, ...(cdn.domain ? { domain: cdn.domain } : {}), ...(cdn.rateLimitPerIp ? { rateLimitPerIp: cdn.rateLimitPerIp } : {}) } });
  return { ...parsed, cdn: { ...parsed.cdn, ...(cdn.hostedZoneId ? { hostedZoneId: cdn.hostedZoneId } : {}) } };
}

const context = (config: Config, progress: string[] = []) => contextFor({ config, clients, clock: virtualClock(), progress: (m) => progress.push(m) });

/** The two rows as deploy runs them: ensure when enabled, else remove (retire). */
async function deployRows(config: Config, progress: string[] = []) {
  calls = [];
  const ctx = await context(config, progress);
  const built: Partial<Built> = {};
  const reports: StepReport[] = [];
  for (const row of ROWS) reports.push(row.enabled?.(config) === true ? await row.ensure(ctx, built, {}) : await row.remove!(ctx, {}, {}));
  return { ctx, built, reports, mutations: mutating() };
}

async function teardownRows(config: Config) {
  calls = [];
  const ctx = await context(config);
  const reports: StepReport[] = [];
  for (const row of [...ROWS].reverse()) reports.push(await row.remove!(ctx, {}, {}));
  return { reports, mutations: mutating() };
}

const certificates = async () => (await reader.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? [];
const cdnAcls = async (name: string) => ((await reader.wafv2Cdn.send(new ListWebACLsCommand({ Scope: "CLOUDFRONT" }))).WebACLs ?? []).filter((w) => w.Name === name);
const records = async (zoneId: string, type: string) =>
  ((await reader.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets ?? []).filter((r) => r.Type === type);

test("cdn.domain with a zone: a DNS-validated certificate for exactly the domain in us-east-1, tagged, its record written, ISSUED; the alias to the distribution; a second run sends nothing", async () => {
  const zoneId = await zone();
  const config = configOf({ domain: DOMAIN, hostedZoneId: zoneId });
  const first = await deployRows(config);
  assert.deepEqual(first.mutations, ["acm:RequestCertificate", "route53:ChangeResourceRecordSets"]);
  assert.equal(proxy.faulted("acm-validation-record-delay"), 2, "deploy waited for the record ACM gives seconds later");
  const arn = first.built.cdnCertificateArn!;
  assert.match(arn, /^arn:aws:acm:us-east-1:/);
  const cert = (await reader.acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate!;
  assert.deepEqual([cert.DomainName, cert.SubjectAlternativeNames, cert.DomainValidationOptions?.map((o) => o.ValidationMethod)], [DOMAIN, [DOMAIN], ["DNS"]]);
  const tags = (await reader.acm.send(new ListTagsForCertificateCommand({ CertificateArn: arn }))).Tags ?? [];
  assert.deepEqual(Object.fromEntries(tags.map((t) => [t.Key, t.Value])), first.ctx.tags);
  const want = cert.DomainValidationOptions![0]!.ResourceRecord!;
  assert.deepEqual((await records(zoneId, "CNAME")).map((r) => [r.Name, r.ResourceRecords?.[0]?.Value]), [[want.Name, want.Value]]);
  assert.equal(first.reports[0]!.action, "created");

  const alias = await ensureCdnAlias(first.ctx, DIST);
  assert.equal(alias.action, "updated");
  for (const type of ["A", "AAAA"]) assert.deepEqual((await records(zoneId, type)).map((r) => [r.Name, r.AliasTarget?.DNSName, r.AliasTarget?.HostedZoneId]), [[`${DOMAIN}.`, DIST, "Z2FDTNDATAQYW2"]], type);

  const again = await deployRows(config);
  calls = [];
  assert.equal((await ensureCdnAlias(again.ctx, DIST)).action, "unchanged");
  assert.deepEqual([again.mutations, mutating(), again.built.cdnCertificateArn, (await certificates()).length], [[], [], arn, 1]);
});

test("cdn.domain without a zone: the record to create is printed, deploy waits (bounded, with progress) and stops naming it; once it exists, the next run goes on with the same certificate", async () => {
  const config = configOf({ domain: DOMAIN });
  const progress: string[] = [];
  const stopped = await deployRows(config, progress).then(() => undefined, (e: unknown) => e);
  assert.ok(stopped instanceof DeployError, String(stopped));
  const cert = (await reader.acm.send(new DescribeCertificateCommand({ CertificateArn: (await certificates())[0]!.CertificateArn }))).Certificate!;
  const { Name, Value } = cert.DomainValidationOptions![0]!.ResourceRecord!;
  assert.equal(stopped.code, "CertificatePendingValidation");
  assert.match(stopped.message, new RegExp(`Create this DNS record at your DNS provider: ${Name} CNAME ${Value}\\. Then run deploy again: it continues once the certificate .* is ISSUED`));
  assert.ok(progress.some((m) => m.includes(`${Name} CNAME ${Value}`)), "the record is printed before the wait");
  assert.ok(progress.some((m) => /waiting for ACM to validate img\.example\.com \(PENDING_VALIDATION; up to \d+ s more\)/.test(m)), progress.join("\n"));

  // The user creates the record at their DNS provider (a zone of the account here).
  await reader.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: await zone(), ChangeBatch: { Changes: [{ Action: "UPSERT", ResourceRecordSet: { Name, Type: "CNAME", TTL: 300, ResourceRecords: [{ Value }] } }] } }));
  const next = await deployRows(config);
  assert.deepEqual([next.mutations, next.built.cdnCertificateArn, (await certificates()).length], [[], cert.CertificateArn, 1]);
  const alias = await ensureCdnAlias(next.ctx, DIST);
  assert.deepEqual([alias.detail, mutating()], [`create this record at your DNS provider: ${DOMAIN} CNAME ${DIST}`, []]);
});

test("cdn.rateLimitPerIp: a CLOUDFRONT web ACL in us-east-1, one rule per IP at the limit answering 429 with the API's error body; a new limit is one update; unset, it is deleted", async () => {
  const config = configOf({ rateLimitPerIp: 500 });
  const first = await deployRows(config);
  assert.deepEqual(first.mutations, ["wafv2Cdn:CreateWebACL"]);
  const [summary] = await cdnAcls(cdnWebAclName(first.ctx));
  assert.equal(first.built.cdnWebAclArn, summary!.ARN);
  assert.match(summary!.ARN!, /^arn:aws:wafv2:us-east-1:\d+:global\/webacl\//);
  const acl = async () => (await reader.wafv2Cdn.send(new GetWebACLCommand({ Name: summary!.Name, Scope: "CLOUDFRONT", Id: summary!.Id }))).WebACL!;
  const got = await acl();
  assert.deepEqual(got.Rules?.map((r) => [r.Statement?.RateBasedStatement, r.Action]), [[{ Limit: 500, EvaluationWindowSec: 300, AggregateKeyType: "IP" }, { Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: "rate-limited" } } }]]);
  assert.deepEqual(got.CustomResponseBodies, { "rate-limited": { ContentType: "APPLICATION_JSON", Content: RATE_LIMITED_BODY } });
  assert.deepEqual(JSON.parse(RATE_LIMITED_BODY), { error: { code: "RATE_LIMITED", message: "Too many requests from this address in the last 5 minutes: wait and retry." } });
  assert.deepEqual((await deployRows(config)).mutations, []);

  const raised = await deployRows(configOf({ rateLimitPerIp: 900 }, config.stackName));
  assert.deepEqual([raised.mutations, raised.built.cdnWebAclArn, (await acl()).Rules?.[0]?.Statement?.RateBasedStatement?.Limit], [["wafv2Cdn:UpdateWebACL"], summary!.ARN, 900]);
  const unset = await deployRows(configOf({}, config.stackName));
  assert.deepEqual([unset.mutations, unset.reports.map((r) => r.action), (await cdnAcls(config.stackName)).length], [["wafv2Cdn:DeleteWebACL"], ["absent", "deleted"], 0]);
  assert.deepEqual((await deployRows(configOf({}, config.stackName))).mutations, []);
});

test("the AWS rule: WAF scope CLOUDFRONT from another region is refused as AWS refuses it (moto takes it)", async () => {
  const elsewhere = new WAFV2Client({ region: REGION, endpoint: proxy.url, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
  await assert.rejects(elsewhere.send(new ListWebACLsCommand({ Scope: "CLOUDFRONT" })), (e: Error) => e.name === "WAFInvalidParameterException" && /scope is not valid/.test(e.message));
  elsewhere.destroy();
});

test("a deploy interrupted before each kind of call, and a teardown before each of its own, are finished by the next run: one certificate, its record, one ACL; then nothing", async (t) => {
  const zoneId = await zone();
  const config = configOf({ domain: DOMAIN, hostedZoneId: zoneId, rateLimitPerIp: 500 });
  const full = (await deployRows(config)).mutations;
  await ensureCdnAlias(await context(config), DIST);
  const down = (await teardownRows(config)).mutations;
  t.diagnostic(`deploy: ${full.join(", ")}; teardown: ${down.join(", ")}`);
  assert.deepEqual(down, ["wafv2Cdn:DeleteWebACL", ...Array(3).fill("route53:ChangeResourceRecordSets"), "acm:DeleteCertificate"], "the ACL, the alias (A, AAAA), the validation record, the certificate");
  const interrupted = async (run: () => Promise<unknown>, k: number) => {
    failAfter = k;
    try {
      await assert.rejects(run(), /injected failure/, `k=${k}`);
    } finally {
      failAfter = undefined;
    }
  };
  for (const k of interruptionPoints(full)) {
    await teardownRows(config);
    await interrupted(() => deployRows(config), k);
    const done = await deployRows(config);
    assert.deepEqual([(await certificates()).length, (await records(zoneId, "CNAME")).length, (await cdnAcls(cdnWebAclName(done.ctx))).length], [1, 1, 1], `k=${k}`);
    assert.deepEqual((await deployRows(config)).mutations, [], `k=${k}: converged`);
  }
  await ensureCdnAlias(await context(config), DIST);
  for (const k of interruptionPoints(down)) {
    await interrupted(() => teardownRows(config), k);
    await teardownRows(config);
    assert.deepEqual([(await certificates()).length, (await records(zoneId, "CNAME")).length, (await records(zoneId, "A")).length, (await cdnAcls(`${config.stackName}-cdn-rate-limit`)).length], [0, 0, 0, 0], `teardown k=${k}`);
    await deployRows(config);
    await ensureCdnAlias(await context(config), DIST);
  }
  await teardownRows(config);
  const twice = await teardownRows(config);
  assert.deepEqual([twice.mutations, twice.reports.map((r) => r.action)], [[], ["absent", "absent"]], "a second teardown changes nothing");
});

test("still in use by a distribution: the ACL and the certificate are kept, and the report says why and what finishes it", async () => {
  const config = configOf({ domain: DOMAIN, hostedZoneId: await zone(), rateLimitPerIp: 500 });
  await deployRows(config);
  // "WAFAssociatedItemException: AWS WAF couldn't perform the operation because your resource is being used by another resource or it's associated with another resource."
  // https://docs.aws.amazon.com/waf/latest/APIReference/API_DeleteWebACL.html; ACM: https://docs.aws.amazon.com/acm/latest/APIReference/API_DeleteCertificate.html
  proxy.inject({ name: "acl in use", match: { service: "wafv2", operation: "DeleteWebACL" }, fault: jsonError(400, "WAFAssociatedItemException", "AWS WAF couldn't perform the operation because your resource is being used by another resource or it's associated with another resource."), times: Infinity });
  proxy.inject({ name: "certificate in use", match: { service: "acm", operation: "DeleteCertificate" }, fault: jsonError(400, "ResourceInUseException", "Certificate is in use by CloudFront."), times: Infinity });
  const down = await teardownRows(config);
  const [acl, cert] = down.reports;
  assert.deepEqual([acl!.action, cert!.action], ["kept", "kept"]);
  assert.match(acl!.detail!, /a CloudFront distribution still uses it \(WAFAssociatedItemException\): it is deleted by the next run once the distribution no longer names it in WebACLId/);
  assert.match(cert!.detail!, /still used by a CloudFront distribution \(ResourceInUseException\): deleted by the next run once the distribution is deleted/);
  assert.deepEqual([(await certificates()).length, (await cdnAcls(`${config.stackName}-cdn-rate-limit`)).length], [1, 1]);
});

test("every call of deploy, alias, a changed limit and teardown is allowed by the deployer policy", async () => {
  const config = configOf({ domain: DOMAIN, hostedZoneId: await zone(), rateLimitPerIp: 500 });
  const all: typeof calls = [];
  const { ctx, built } = await deployRows(config);
  all.push(...calls);
  calls = [];
  await ensureCdnAlias(ctx, DIST);
  all.push(...calls);
  await deployRows(configOf({ domain: DOMAIN, hostedZoneId: config.cdn.hostedZoneId!, rateLimitPerIp: 900 }, config.stackName));
  all.push(...calls);
  await teardownRows(config);
  all.push(...calls);
  const refused = await deployerRefusals(all.filter((c) => c.service !== "sts"), scopeOf(config.stackName, { region: REGION, account: ctx.account }), { tags: new Map([[built.cdnCertificateArn!, ctx.tags]]), aliases: new Map(), keyPolicies: new Map() });
  assert.deepEqual([...new Set(all.map((c) => `${c.service}:${c.command}`))].sort(), [
    "acm:DeleteCertificate", "acm:DescribeCertificate", "acm:ListCertificates", "acm:ListTagsForCertificate", "acm:RequestCertificate",
    "route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "sts:GetCallerIdentity",
    "wafv2Cdn:CreateWebACL", "wafv2Cdn:DeleteWebACL", "wafv2Cdn:GetWebACL", "wafv2Cdn:ListWebACLs", "wafv2Cdn:UpdateWebACL",
  ]);
  assert.deepEqual(refused, []);
});
