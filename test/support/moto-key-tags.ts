// What moto 5 lacks for the keys command, answered in the gap layer as AWS
// documents it: TagResource and UntagResource on API keys and usage plans
// (moto tags only stages), seen in every later read of them; and GetUsage
// (moto has none), answered from USAGE, which tests fill with the daily
// [used, remaining] pairs AWS would report (an account with no traffic
// reports no items).
// https://docs.aws.amazon.com/apigateway/latest/api/API_TagResource.html
// https://docs.aws.amazon.com/apigateway/latest/api/API_UntagResource.html
// https://docs.aws.amazon.com/apigateway/latest/api/API_GetUsage.html
import type { FaultRule } from "./fault-proxy.ts";

/** Tags set (a value) or removed (null) after create, by "apikeys/ID" or "usageplans/ID". */
const overlay = new Map<string, Map<string, string | null>>();
/** Daily [used, remaining] per key id, as GetUsage reports them. */
export const USAGE = new Map<string, number[][]>();

const TAGGABLE = /^\/tags\/(arn%3A[^/]+|arn:.+)$/;
const resourceOf = (encodedArn: string) => /::\/((?:apikeys|usageplans)\/[^/]+)$/.exec(decodeURIComponent(encodedArn))?.[1];

type Tagged = { id?: string; tags?: Record<string, string> };
function withOverlay(kind: "apikeys" | "usageplans", item: Tagged): Tagged {
  const changes = overlay.get(`${kind}/${item.id}`);
  if (changes === undefined) return item;
  const tags = { ...item.tags };
  for (const [k, v] of changes) if (v === null) delete tags[k];
  else tags[k] = v;
  return { ...item, tags };
}

export const MOTO_KEY_GAPS: FaultRule[] = [
  {
    name: "moto gap: apigateway TagResource/UntagResource on API keys and usage plans",
    match: { service: "apigateway", path: TAGGABLE },
    fault: (req) => {
      const resource = resourceOf(TAGGABLE.exec(req.path)![1]!);
      if (resource === undefined) return undefined;
      const changes = overlay.get(resource) ?? new Map<string, string | null>();
      overlay.set(resource, changes);
      if (req.method === "PUT") {
        for (const [k, v] of Object.entries((JSON.parse(req.body.toString("utf8") || "{}") as { tags?: Record<string, string> }).tags ?? {})) changes.set(k, v);
        return { kind: "respond", status: 204 };
      }
      if (req.method === "DELETE") {
        for (const k of req.query.getAll("tagKeys")) changes.set(k, null);
        return { kind: "respond", status: 204 };
      }
      return undefined;
    },
    times: Infinity,
  },
  {
    name: "moto gap: apigateway tags set after create, in reads of keys and plans",
    match: { service: "apigateway", method: "GET", path: /^\/(apikeys|usageplans)(\/[^/]+)?\/?$/ },
    fault: (req) => {
      const kind = req.path.startsWith("/apikeys") ? "apikeys" : "usageplans";
      const id = req.path.split("/")[2];
      // Untouched resources pass, so rules a test injects for these reads still apply.
      if (![...overlay.keys()].some((r) => r === `${kind}/${id}` || (id === undefined || id === "" ? r.startsWith(`${kind}/`) : false))) return undefined;
      return {
        kind: "rewrite",
        rewrite: (answer) => {
          if (answer.status !== 200) return answer;
          const body = JSON.parse(answer.body.toString("utf8")) as Tagged & { item?: Tagged[] };
          const out = Array.isArray(body.item) ? { ...body, item: body.item.map((i) => withOverlay(kind, i)) } : withOverlay(kind, body);
          const { "content-length": _length, ...headers } = answer.headers;
          return { ...answer, headers, body: Buffer.from(JSON.stringify(out)) };
        },
      };
    },
    times: Infinity,
  },
  {
    name: "moto gap: apigateway GetUsage",
    match: { service: "apigateway", method: "GET", path: /^\/usageplans\/[^/]+\/usage\/?$/ },
    fault: (req) => {
      const keyId = req.query.get("keyId");
      // On the wire the SDK's `items` is "values" (the docs' example: "values" : { "{api_key}" : [[0, 100], [10, 90]] }).
      const values = Object.fromEntries([...USAGE].filter(([id]) => keyId === null || id === keyId));
      const body = { usagePlanId: req.path.split("/")[2], startDate: req.query.get("startDate"), endDate: req.query.get("endDate"), values };
      return { kind: "respond", status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    },
    times: Infinity,
  },
];
