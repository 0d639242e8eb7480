// CloudFront as AWS documents it, where moto 5.2.1 falls short: moto has no
// cache policies, no CloudFront Functions, no DeleteKeyGroup; it drops
// FunctionAssociations and OriginAccessControlId from distribution configs,
// keeps one ETag per distribution and ignores If-Match. This stand-in on the
// fault proxy answers cache policies and functions itself, keeps each
// distribution's configuration as sent (moto still makes the distribution:
// its id, domain, ARN and tags) with a new ETag per change, and enforces:
//  - If-Match must name the current version, else PreconditionFailed (412);
//  - a distribution is deleted only once disabled and deployed, else
//    DistributionNotDisabled (409): API_DeleteDistribution.html;
//  - a cache policy, function, origin access control or key group a
//    distribution uses cannot be deleted: CachePolicyInUse, FunctionInUse,
//    OriginAccessControlInUse, ResourceInUse (409): API_DeleteCachePolicy.html,
//    API_DeleteFunction.html, API_DeleteOriginAccessControl.html, API_DeleteKeyGroup.html
//    (https://docs.aws.amazon.com/cloudfront/latest/APIReference/);
//  - a change is InProgress for `deployReads` reads of GetDistribution, then Deployed.
import type { Fault, FaultRule, ProxiedRequest, UpstreamAnswer } from "../fault-proxy.ts";
import type { AwsRule } from "./kit.ts";
import { child, cloudFrontError, doc, el, newETag, xmlAnswer } from "./cloudfront-xml.ts";
import { cachePolicyRoutes, functionRoutes, usedBy, versionCheck, type Store } from "./cloudfront-resources.ts";

const API = "/2020-05-31";
const DOCS = "https://docs.aws.amazon.com/cloudfront/latest/APIReference/";

export interface CloudFrontStandIn extends AwsRule {
  /** How many GetDistribution reads a change stays InProgress (1 by default; a large number holds it). */
  deployReads: number;
  /** Every change deployed at once. */
  settle(): void;
  store: Store;
}

export function cloudFrontStandIn(options: { deployReads?: number } = {}): CloudFrontStandIn {
  let upstream = "";
  const store: Store = { distributions: new Map(), cachePolicies: new Map(), functions: new Map(), deletedKeyGroups: new Set() };
  const standIn: CloudFrontStandIn = {
    name: "cloudfront stand-in",
    source: DOCS,
    deployReads: options.deployReads ?? 1,
    store,
    settle: () => store.distributions.forEach((d) => (d.pending = 0)),
    install: ({ proxy }) => {
      upstream = proxy.upstream;
      const rule = (path: RegExp, fault: FaultRule["fault"], method?: string): FaultRule => ({ name: standIn.name, match: { service: "cloudfront", path, ...(method ? { method } : {}) }, fault, times: Infinity });
      for (const r of [...cachePolicyRoutes(store), ...functionRoutes(store)]) proxy.inject(rule(r.path, r.fault, r.method));
      proxy.inject(rule(new RegExp(`^${API}/distribution$`), (req) => ({ kind: "rewrite", rewrite: (a) => (req.method === "POST" ? created(a, req) : listed(a)) })));
      proxy.inject(rule(new RegExp(`^${API}/distribution/[^/]+/config$`), distributionConfig));
      proxy.inject(rule(new RegExp(`^${API}/distribution/[^/]+$`), distribution));
      proxy.inject(rule(new RegExp(`^${API}/key-group(/[^/]+)?$`), keyGroup));
      proxy.inject(rule(new RegExp(`^${API}/origin-access-control/[^/]+$`), (req) => {
        const id = req.path.split("/")[3]!;
        if (req.method === "DELETE" && usedBy(store, el("OriginAccessControlId", id))) return cloudFrontError(409, "OriginAccessControlInUse", "Cannot delete the origin access control because it's in use by one or more distributions.");
        return undefined;
      }, "DELETE"));
    },
  };

  const idOf = (req: ProxiedRequest) => req.path.split("/")[3]!;
  const status = (d: { pending: number }) => (d.pending > 0 ? "InProgress" : "Deployed");

  /** moto's Distribution element with the configuration as sent, our version and status. */
  function answerWith(answer: UpstreamAnswer, id: string, read: boolean): UpstreamAnswer {
    const d = store.distributions.get(id);
    if (d === undefined || answer.status >= 300) return answer;
    let body = answer.body.toString("utf8").replace(/<DistributionConfig(\s[^>]*)?>[\s\S]*<\/DistributionConfig>/, (_m, attrs: string | undefined) => `<DistributionConfig${attrs ?? ""}>${d.config}</DistributionConfig>`);
    body = body.replace(/<Status>[^<]*<\/Status>/, el("Status", status(d)));
    if (read && d.pending > 0) d.pending -= 1;
    return { ...answer, headers: { ...answer.headers, etag: d.etag }, body: Buffer.from(body) };
  }

  function created(answer: UpstreamAnswer, req: ProxiedRequest): UpstreamAnswer {
    const id = /<Id>([^<]+)<\/Id>/.exec(answer.body.toString("utf8"))?.[1];
    const config = child(req.body.toString("utf8"), "DistributionConfig", 1);
    if (answer.status >= 300 || id === undefined || config === undefined) return answer;
    store.distributions.set(id, { config, etag: newETag(), pending: standIn.deployReads });
    return answerWith(answer, id, false);
  }

  /** Summaries carry Comment and Enabled (moto leaves them out). */
  function listed(answer: UpstreamAnswer): UpstreamAnswer {
    const body = answer.body.toString("utf8").replace(/<DistributionSummary>([\s\S]*?)<\/DistributionSummary>/g, (whole, inner: string) => {
      const d = store.distributions.get(/<Id>([^<]+)<\/Id>/.exec(inner)?.[1] ?? "");
      if (d === undefined) return whole;
      const rest = inner.replace(/<Status>[^<]*<\/Status>/, el("Status", status(d)));
      return el("DistributionSummary", `${rest}${el("Comment", child(d.config, "Comment", 0) ?? "")}${el("Enabled", child(d.config, "Enabled", 0) ?? "false")}`);
    });
    return { ...answer, body: Buffer.from(body) };
  }

  function distributionConfig(req: ProxiedRequest): Fault | undefined {
    const id = idOf(req);
    const d = store.distributions.get(id);
    if (d === undefined) return undefined;
    if (req.method === "GET") return xmlAnswer(200, doc("DistributionConfig", d.config), { ETag: d.etag });
    if (req.method !== "PUT") return undefined;
    const refused = versionCheck(req, d.etag);
    if (refused) return refused;
    const config = child(req.body.toString("utf8"), "DistributionConfig", 0);
    return {
      kind: "rewrite",
      rewrite: (answer) => {
        if (answer.status >= 300 || config === undefined) return answer;
        Object.assign(d, { config, etag: newETag(), pending: standIn.deployReads });
        return answerWith(answer, id, false);
      },
    };
  }

  function distribution(req: ProxiedRequest): Fault | undefined {
    const id = idOf(req);
    const d = store.distributions.get(id);
    if (d === undefined) return undefined;
    if (req.method === "GET") return { kind: "rewrite", rewrite: (answer) => answerWith(answer, id, true) };
    if (req.method !== "DELETE") return undefined;
    const refused = versionCheck(req, d.etag);
    if (refused) return refused;
    if (child(d.config, "Enabled", 0) !== "false" || d.pending > 0) return cloudFrontError(409, "DistributionNotDisabled", "The specified CloudFront distribution is not disabled. You must disable the distribution before you can delete it.");
    return { kind: "rewrite", rewrite: (answer) => (answer.status < 300 && store.distributions.delete(id), answer) };
  }

  /** moto has no DeleteKeyGroup: the stand-in deletes (hides) it, after the version and in-use checks. */
  async function keyGroup(req: ProxiedRequest): Promise<Fault | undefined> {
    const id = req.path.split("/")[3];
    if (id === undefined) {
      if (req.method !== "GET") return undefined;
      return { kind: "rewrite", rewrite: (answer) => {
        let hidden = 0;
        let body = answer.body.toString("utf8").replace(/<KeyGroupSummary>[\s\S]*?<\/KeyGroupSummary>/g, (whole) => (store.deletedKeyGroups.has(/<Id>([^<]+)<\/Id>/.exec(whole)?.[1] ?? "") ? (hidden++, "") : whole));
        body = body.replace(/<Quantity>(\d+)<\/Quantity>/, (_m, n: string) => el("Quantity", Number(n) - hidden));
        return { ...answer, body: Buffer.from(body) };
      } };
    }
    if (store.deletedKeyGroups.has(id)) return cloudFrontError(404, "NoSuchResource", "A resource that was specified is not valid.");
    if (req.method !== "DELETE") return undefined;
    const current = await fetch(`${upstream}${req.url}`, { headers: { authorization: String(req.headers.authorization ?? "") } });
    const refused = versionCheck(req, current.headers.get("etag") ?? "");
    if (refused) return refused;
    if (usedBy(store, el("KeyGroup", id))) return cloudFrontError(409, "ResourceInUse", "Cannot delete this resource because it is in use.");
    store.deletedKeyGroups.add(id);
    return { kind: "respond", status: 204 };
  }

  return standIn;
}
