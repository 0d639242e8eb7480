// The optional per-IP rate limit (api.rateLimitPerIp) against moto's WAF v2:
// made and associated with the stage when set, repaired when changed out of
// band, removed when unset; a lost CreateWebACL answer and a web ACL not yet
// usable are coped with; every call it makes is allowed by the deployer policy.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GetStageCommand } from "@aws-sdk/client-api-gateway";
import { AssociateWebACLCommand, CreateWebACLCommand, DisassociateWebACLCommand, GetWebACLCommand, GetWebACLForResourceCommand, ListTagsForResourceCommand, ListWebACLsCommand, UpdateWebACLCommand } from "@aws-sdk/client-wafv2";
import type { Config } from "../config/schema.ts";
import { createClients, destroyClients } from "../deploy/aws-clients.ts";
import { DeployError } from "../deploy/errors.ts";
import { ensureWebAcl, rateRules, removeWebAcl, webAclName } from "../deploy/resources/web-acl.ts";
import { jsonError, startFaultProxy } from "./support/fault-proxy.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./support/moto.ts";
import { useApiHarness, withConfig, type Prerequisites } from "./support/api-harness.ts";
import { authorizations } from "./support/policy-calls.ts";
import { evaluate } from "./support/policy-eval.ts";
import { deployerPolicies, scopeOf } from "./support/policy-stack.ts";

const h = useApiHarness();

let stacks = 0;
/** A stack with its API deployed, and the config with (or without) a limit. */
async function stack(limit: number | undefined) {
  const cfg = withConfig((c) => ({ ...c, stackName: `imgapi-w${++stacks}`, api: { ...c.api, rateLimitPerIp: limit } }));
  const ctx = h.context({ config: cfg });
  const prereq: Prerequisites = await h.prerequisites(ctx.names);
  const { api } = await h.deployApi(ctx, prereq);
  const withLimit = (rateLimitPerIp: number | undefined) => h.context({ config: { ...cfg, api: { ...cfg.api, rateLimitPerIp } } as Config });
  return { ctx, withLimit, stageArn: api.stageArn, restApiId: api.restApiId };
}

const acl = async (name: string) => {
  const summary = (await h.aws.wafv2.send(new ListWebACLsCommand({ Scope: "REGIONAL" }))).WebACLs?.find((w) => w.Name === name);
  return summary && (await h.aws.wafv2.send(new GetWebACLCommand({ Name: name, Scope: "REGIONAL", Id: summary.Id })));
};
const aclsNamed = async (name: string) => ((await h.aws.wafv2.send(new ListWebACLsCommand({ Scope: "REGIONAL" }))).WebACLs ?? []).filter((w) => w.Name === name).length;
const aclOfStage = async (stageArn: string) => (await h.aws.wafv2.send(new GetWebACLForResourceCommand({ ResourceArn: stageArn }))).WebACL?.ARN;

test("unset: nothing made, nothing sent", async () => {
  const s = await stack(undefined);
  const { report, mutations } = await h.run(() => ensureWebAcl(s.ctx, { stageArn: s.stageArn }));
  assert.deepEqual([report.action, mutations], ["absent", []]);
});

test("set: one rate-based rule per IP over 5 minutes that blocks, tagged, on the stage; a second run sends nothing", async () => {
  const s = await stack(300);
  const { report, mutations } = await h.run(() => ensureWebAcl(s.ctx, { stageArn: s.stageArn }));
  assert.deepEqual([report.action, mutations], ["created", ["CreateWebACL", "AssociateWebACL"]]);
  const got = (await acl(webAclName(s.ctx)))!.WebACL!;
  assert.deepEqual(got.DefaultAction, { Allow: {} });
  assert.deepEqual(got.Rules?.map((r) => [r.Name, r.Priority, r.Statement?.RateBasedStatement, r.Action]), [["rate-per-ip", 0, { Limit: 300, EvaluationWindowSec: 300, AggregateKeyType: "IP" }, { Block: {} }]]);
  const tags = (await h.aws.wafv2.send(new ListTagsForResourceCommand({ ResourceARN: got.ARN }))).TagInfoForResource?.TagList;
  assert.deepEqual(Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value])), s.ctx.tags);
  assert.equal(await aclOfStage(s.stageArn), got.ARN);
  assert.equal((await h.aws.apigw.send(new GetStageCommand({ restApiId: s.restApiId, stageName: "prod" }))).webAclArn, got.ARN, "the stage reports it");
  assert.deepEqual((await h.run(() => ensureWebAcl(s.ctx, { stageArn: s.stageArn }))).mutations, []);
});

const DRIFT: Array<{ drift: string; change(s: Awaited<ReturnType<typeof stack>>): Promise<unknown>; repair: string[] }> = [
  {
    drift: "the limit raised out of band",
    change: async (s) => {
      const { WebACL, LockToken } = (await acl(webAclName(s.ctx)))!;
      return h.aws.wafv2.send(new UpdateWebACLCommand({ Name: WebACL!.Name, Id: WebACL!.Id, Scope: "REGIONAL", LockToken, DefaultAction: { Allow: {} }, Rules: rateRules(100_000), VisibilityConfig: WebACL!.VisibilityConfig }));
    },
    repair: ["UpdateWebACL"],
  },
  {
    drift: "the rule set to count instead of block",
    change: async (s) => {
      const { WebACL, LockToken } = (await acl(webAclName(s.ctx)))!;
      return h.aws.wafv2.send(new UpdateWebACLCommand({ Name: WebACL!.Name, Id: WebACL!.Id, Scope: "REGIONAL", LockToken, DefaultAction: { Allow: {} }, Rules: rateRules(300).map((r) => ({ ...r, Action: { Count: {} } })), VisibilityConfig: WebACL!.VisibilityConfig }));
    },
    repair: ["UpdateWebACL"],
  },
  { drift: "disassociated from the stage", change: (s) => h.aws.wafv2.send(new DisassociateWebACLCommand({ ResourceArn: s.stageArn })), repair: ["AssociateWebACL"] },
];

for (const row of DRIFT) {
  test(`drift repaired: ${row.drift}`, async () => {
    const s = await stack(300);
    await ensureWebAcl(s.ctx, { stageArn: s.stageArn });
    await row.change(s);
    assert.deepEqual((await h.run(() => ensureWebAcl(s.ctx, { stageArn: s.stageArn }))).mutations, row.repair);
    assert.deepEqual((await acl(webAclName(s.ctx)))!.WebACL!.Rules?.map((r) => [r.Statement?.RateBasedStatement?.Limit, r.Action]), [[300, { Block: {} }]]);
    assert.ok(await aclOfStage(s.stageArn));
    assert.deepEqual((await h.run(() => ensureWebAcl(s.ctx, { stageArn: s.stageArn }))).mutations, []);
  });
}

test("a changed limit is one UpdateWebACL; unset, the ACL is disassociated and deleted; then absent", async () => {
  const s = await stack(300);
  await ensureWebAcl(s.ctx, { stageArn: s.stageArn });
  const raised = await h.run(() => ensureWebAcl(s.withLimit(600), { stageArn: s.stageArn }));
  assert.deepEqual([raised.report.action, raised.mutations], ["updated", ["UpdateWebACL"]]);
  const unset = await h.run(() => ensureWebAcl(s.withLimit(undefined), { stageArn: s.stageArn }));
  assert.deepEqual([unset.report.action, unset.mutations], ["deleted", ["DisassociateWebACL", "DeleteWebACL"]]);
  assert.deepEqual([await aclsNamed(webAclName(s.ctx)), await aclOfStage(s.stageArn)], [0, undefined]);
  assert.deepEqual((await h.run(() => removeWebAcl(s.ctx))).report.action, "absent");
});

test("teardown (removeWebAcl) finds the stage through the stack's API", async () => {
  const s = await stack(300);
  await ensureWebAcl(s.ctx, { stageArn: s.stageArn });
  const { report, mutations } = await h.run(() => removeWebAcl(s.ctx));
  assert.deepEqual([report.action, mutations], ["deleted", ["DisassociateWebACL", "DeleteWebACL"]]);
  assert.equal(await aclOfStage(s.stageArn), undefined);
});

test("a dry run sends nothing", async () => {
  const s = await stack(300);
  const dry = await h.run(() => ensureWebAcl({ ...s.ctx, dryRun: true }, { stageArn: s.stageArn }));
  assert.deepEqual([dry.report.action, dry.mutations, await aclsNamed(webAclName(s.ctx))], ["created", [], 0]);
});

test("a stage protected by another web ACL is not taken over: a DeployError says what to do, nothing else is sent", async () => {
  const s = await stack(300);
  const theirs = await h.aws.wafv2.send(new CreateWebACLCommand({ Name: "theirs", Scope: "REGIONAL", DefaultAction: { Allow: {} }, Rules: [], VisibilityConfig: { SampledRequestsEnabled: false, CloudWatchMetricsEnabled: false, MetricName: "theirs" } }));
  await h.aws.wafv2.send(new AssociateWebACLCommand({ WebACLArn: theirs.Summary!.ARN, ResourceArn: s.stageArn }));
  h.sent.length = 0;
  await assert.rejects(ensureWebAcl(s.ctx, { stageArn: s.stageArn }), (e: unknown) => e instanceof DeployError && e.code === "StageHasAnotherWebAcl" && /disassociate-web-acl/.test(e.message));
  assert.deepEqual(h.mutating(), ["CreateWebACL"], "its own ACL is made, the stage keeps theirs");
  assert.equal(await aclOfStage(s.stageArn), theirs.Summary!.ARN);
});

test("lost CreateWebACL and UpdateWebACL answers: the SDK's retries are refused and what the first attempt made is adopted; a new ACL not yet usable is waited for", async (t) => {
  const s = await stack(300);
  const proxy = await startFaultProxy(h.moto.endpoint);
  const faulty = createClients({ region: MOTO_REGION, endpoint: proxy.url, credentials: MOTO_CREDENTIALS, maxAttempts: 3 });
  t.after(async () => {
    destroyClients(faulty);
    await proxy.close();
  });
  const ctx = { ...s.ctx, clients: faulty };
  proxy.inject({ name: "lost", match: { service: "wafv2", operation: "CreateWebACL" }, fault: { kind: "lose", answer: jsonError(500, "WAFInternalErrorException", "AWS WAF couldn't perform the operation because of a system problem.") } });
  // "AWS WAF couldn't retrieve the resource that you requested. Retry your request." (https://docs.aws.amazon.com/waf/latest/APIReference/API_AssociateWebACL.html)
  proxy.inject({ name: "not yet", match: { service: "wafv2", operation: "AssociateWebACL" }, fault: jsonError(400, "WAFUnavailableEntityException", "AWS WAF couldn't retrieve the resource that you requested. Retry your request."), times: 2 });
  const report = await ensureWebAcl(ctx, { stageArn: s.stageArn });
  assert.deepEqual([proxy.faulted("lost"), proxy.faulted("not yet"), report.action], [1, 2, "created"]);
  assert.deepEqual([await aclsNamed(webAclName(s.ctx)), await aclOfStage(s.stageArn)], [1, report.webAclArn]);

  // An UpdateWebACL whose answer is lost: the retry's lock token is spent (WAFOptimisticLockException), and the rules read back are the desired ones.
  proxy.inject({ name: "lost update", match: { service: "wafv2", operation: "UpdateWebACL" }, fault: { kind: "lose", answer: jsonError(500, "WAFInternalErrorException", "AWS WAF couldn't perform the operation because of a system problem.") } });
  const raised = await ensureWebAcl({ ...s.withLimit(600), clients: faulty }, { stageArn: s.stageArn });
  assert.deepEqual([proxy.faulted("lost update"), raised.action], [1, "updated"]);
  assert.equal((await acl(webAclName(s.ctx)))!.WebACL!.Rules?.[0]?.Statement?.RateBasedStatement?.Limit, 600);
});

test("every call ensure and remove make is allowed by the deployer policy", async () => {
  const s = await stack(300);
  h.sent.length = 0;
  await ensureWebAcl(s.ctx, { stageArn: s.stageArn });
  await ensureWebAcl(s.withLimit(600), { stageArn: s.stageArn });
  await removeWebAcl(s.ctx);
  const ctx = scopeOf(s.ctx.names.stack, { region: MOTO_REGION, account: s.ctx.account });
  const empty = { Version: "2012-10-17" as const, Statement: [] };
  const policies = { ctx, imagesKeyArn: "", auditKeyArn: "", restApiId: s.restApiId, docs: { imagesKey: empty, auditKey: empty, imagesBucket: empty, trailBucket: empty, deployer: deployerPolicies(ctx), role: empty, boundary: empty, invoke: empty } };
  const inventory = { tags: new Map([[s.restApiId, s.ctx.tags]]), aliases: new Map(), keyPolicies: new Map() };
  const refused: string[] = [];
  for (const call of h.sent.filter((c) => c.service === "wafv2")) {
    const needed = authorizations({ ...call, command: call.command.replace(/Command$/, "") }, policies, inventory);
    if (typeof needed === "string") {
      refused.push(needed);
      continue;
    }
    for (const a of needed) {
      const got = await evaluate({ principal: `arn:aws:iam::${s.ctx.account}:user/deployer`, action: a.action, resource: a.resource, resourceAccount: s.ctx.account, context: a.context, identityPolicies: policies.docs.deployer, pathAuthorized: a.pathAuthorized ?? false });
      if (got !== "Allow") refused.push(`${a.action} on ${a.resource}: ${got}`);
    }
  }
  assert.ok(h.sent.some((c) => c.command === "AssociateWebACLCommand") && h.sent.some((c) => c.command === "DeleteWebACLCommand"));
  assert.deepEqual(refused, []);
});
