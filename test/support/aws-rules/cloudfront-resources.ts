// The CloudFront resources moto 5.2.1 does not have, answered by the stand-in
// (cloudfront.ts) from its own store, with the API reference's shapes,
// versions and errors: cache policies and CloudFront Functions.
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateCachePolicy.html
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateFunction.html
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_PublishFunction.html
import { randomUUID } from "node:crypto";
import type { Fault, ProxiedRequest } from "../fault-proxy.ts";
import { child, cloudFrontError, doc, el, newETag, xmlAnswer } from "./cloudfront-xml.ts";

export interface Store {
  /** Each distribution's configuration as last sent (inner XML), its version, and reads left InProgress. */
  distributions: Map<string, { config: string; etag: string; pending: number }>;
  cachePolicies: Map<string, { config: string; etag: string; modified: string }>;
  functions: Map<string, { dev: FunctionStage; live?: FunctionStage; created: string }>;
  deletedKeyGroups: Set<string>;
}

interface FunctionStage {
  config: string;
  code: Buffer;
  etag: string;
  modified: string;
}

export interface Route {
  path: RegExp;
  method?: string;
  fault: (req: ProxiedRequest) => Fault | undefined | Promise<Fault | undefined>;
}

const API = "/2020-05-31";

const ifMatch = (req: ProxiedRequest) => (typeof req.headers["if-match"] === "string" ? req.headers["if-match"] : undefined);

export function versionCheck(req: ProxiedRequest, etag: string) {
  const given = ifMatch(req);
  if (given === undefined) return cloudFrontError(400, "InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.");
  if (given !== etag) return cloudFrontError(412, "PreconditionFailed", "The precondition given in one or more of the request-header fields evaluated to false.");
  return undefined;
}

export const usedBy = (store: Store, fragment: string) => [...store.distributions.values()].some((d) => d.config.includes(fragment));

const body = (req: ProxiedRequest) => req.body.toString("utf8");

export function cachePolicyRoutes(store: Store): Route[] {
  const policy = (id: string, p: { config: string; modified: string }) => `${el("Id", id)}${el("LastModifiedTime", p.modified)}${el("CachePolicyConfig", p.config)}`;
  const nameOf = (config: string) => child(config, "Name", 0);
  const missing = () => cloudFrontError(404, "NoSuchCachePolicy", "The cache policy does not exist.");
  return [
    {
      path: new RegExp(`^${API}/cache-policy$`),
      fault: (req) => {
        if (req.method === "GET") {
          const items = [...store.cachePolicies].map(([id, p]) => el("CachePolicySummary", `${el("Type", "custom")}${el("CachePolicy", policy(id, p))}`));
          return xmlAnswer(200, doc("CachePolicyList", `${el("MaxItems", 100)}${el("Quantity", items.length)}${items.length ? el("Items", items.join("")) : ""}`));
        }
        const config = child(body(req), "CachePolicyConfig", 0) ?? "";
        if ([...store.cachePolicies.values()].some((p) => nameOf(p.config) === nameOf(config))) {
          return cloudFrontError(409, "CachePolicyAlreadyExists", "A cache policy with this name already exists. You must provide a unique name.");
        }
        const id = randomUUID();
        const p = { config, etag: newETag(), modified: new Date().toISOString() };
        store.cachePolicies.set(id, p);
        return xmlAnswer(201, doc("CachePolicy", policy(id, p)), { ETag: p.etag, Location: `https://cloudfront.amazonaws.com${API}/cache-policy/${id}` });
      },
    },
    {
      path: new RegExp(`^${API}/cache-policy/[^/]+(/config)?$`),
      fault: (req) => {
        const id = req.path.split("/")[3]!;
        const p = store.cachePolicies.get(id);
        if (p === undefined) return missing();
        if (req.method === "GET") return xmlAnswer(200, req.path.endsWith("/config") ? doc("CachePolicyConfig", p.config) : doc("CachePolicy", policy(id, p)), { ETag: p.etag });
        const refused = versionCheck(req, p.etag);
        if (refused) return refused;
        if (req.method === "DELETE") {
          if (usedBy(store, el("CachePolicyId", id))) return cloudFrontError(409, "CachePolicyInUse", "Cannot delete the cache policy because it is attached to one or more cache behaviors.");
          store.cachePolicies.delete(id);
          return { kind: "respond", status: 204 };
        }
        Object.assign(p, { config: child(body(req), "CachePolicyConfig", 0) ?? p.config, etag: newETag(), modified: new Date().toISOString() });
        return xmlAnswer(200, doc("CachePolicy", policy(id, p)), { ETag: p.etag });
      },
    },
  ];
}

export function functionRoutes(store: Store): Route[] {
  const arn = (name: string) => `arn:aws:cloudfront::123456789012:function/${name}`;
  const summary = (name: string, stage: "DEVELOPMENT" | "LIVE", s: FunctionStage, created: string) =>
    doc("FunctionSummary", `${el("Name", name)}${el("Status", "UNASSOCIATED")}${el("FunctionConfig", s.config)}${el("FunctionMetadata", `${el("FunctionARN", arn(name))}${el("Stage", stage)}${el("CreatedTime", created)}${el("LastModifiedTime", s.modified)}`)}`);
  const missing = () => cloudFrontError(404, "NoSuchFunctionExists", "The function does not exist.");
  const stageOf = (req: ProxiedRequest) => (req.query.get("Stage") === "LIVE" ? "LIVE" : "DEVELOPMENT");
  const fromRequest = (xml: string): Omit<FunctionStage, "etag"> => ({
    config: child(xml, "FunctionConfig", 1) ?? "",
    code: Buffer.from(child(xml, "FunctionCode", 1) ?? "", "base64"),
    modified: new Date().toISOString(),
  });
  return [
    {
      path: new RegExp(`^${API}/function$`),
      method: "POST",
      fault: (req) => {
        const name = child(body(req), "Name", 1) ?? "";
        if (store.functions.has(name)) return cloudFrontError(409, "FunctionAlreadyExists", "A function with the same name already exists in this Amazon Web Services account.");
        const dev = { ...fromRequest(body(req)), etag: newETag() };
        const created = dev.modified;
        store.functions.set(name, { dev, created });
        return xmlAnswer(201, summary(name, "DEVELOPMENT", dev, created), { ETag: dev.etag, Location: `https://cloudfront.amazonaws.com${API}/function/${arn(name)}` });
      },
    },
    {
      path: new RegExp(`^${API}/function/[^/]+(/describe|/publish)?$`),
      fault: (req) => {
        const [, , , name, action] = req.path.split("/");
        const f = store.functions.get(name!);
        if (f === undefined) return missing();
        if (req.method === "GET") {
          const stage = stageOf(req);
          const s = stage === "LIVE" ? f.live : f.dev;
          if (s === undefined) return missing();
          if (action === "describe") return xmlAnswer(200, summary(name!, stage, s, f.created), { ETag: s.etag });
          return { kind: "respond", status: 200, body: s.code.toString("utf8"), headers: { "Content-Type": "application/octet-stream", ETag: s.etag } };
        }
        const refused = versionCheck(req, f.dev.etag);
        if (refused) return refused;
        if (req.method === "DELETE") {
          if (usedBy(store, arn(name!))) return cloudFrontError(409, "FunctionInUse", "Cannot delete the function because it's attached to one or more cache behaviors.");
          store.functions.delete(name!);
          return { kind: "respond", status: 204 };
        }
        if (action === "publish") {
          f.live = { ...f.dev, etag: newETag(), modified: new Date().toISOString() };
          return xmlAnswer(200, summary(name!, "LIVE", f.live, f.created));
        }
        f.dev = { ...fromRequest(body(req)), etag: newETag() };
        // UpdateFunction names its version header ETtag (sic), per the API reference.
        return xmlAnswer(200, summary(name!, "DEVELOPMENT", f.dev, f.created), { ETtag: f.dev.etag, ETag: f.dev.etag });
      },
    },
  ];
}
