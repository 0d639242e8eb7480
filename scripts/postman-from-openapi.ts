// Generates the Postman collection (v2.1) from openapi.yaml, so the two cannot
// drift: test/openapi.test.ts checks that postman/collection.json is exactly
// what this makes. Run after changing the spec:
//   npx tsx scripts/postman-from-openapi.ts
// One request per operation, in the spec's order; {{baseUrl}} and {{apiKey}}
// are collection variables, and private requests send x-api-key: {{apiKey}}.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const SPEC_PATH = `${ROOT}openapi.yaml`;
export const COLLECTION_PATH = `${ROOT}postman/collection.json`;
export const POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";
export const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

// The parts of an OpenAPI 3.1 document this generator reads.
export interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  description?: string;
  example?: unknown;
  schema?: { default?: unknown; enum?: unknown[] };
}
type Ref = { $ref: string };
export interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<Parameter | Ref>;
  requestBody?: { content?: Record<string, { example?: unknown; schema?: unknown }> };
  responses?: Record<string, unknown>;
}
export type PathItem = { parameters?: Array<Parameter | Ref> } & Partial<Record<(typeof HTTP_METHODS)[number], Operation>>;
export interface OpenApi {
  openapi: string;
  info: { title: string; version: string; description?: string; summary?: string };
  servers?: Array<{ url: string; variables?: Record<string, { default: string }> }>;
  security?: Array<Record<string, string[]>>;
  paths: Record<string, PathItem>;
  components?: {
    securitySchemes?: Record<string, { type: string; in?: string; name?: string }>;
    parameters?: Record<string, Parameter>;
    [k: string]: unknown;
  };
}

export function loadSpec(path = SPEC_PATH): OpenApi {
  return parse(readFileSync(path, "utf8")) as OpenApi;
}

/** Follows a local "#/components/..." reference. */
export function resolveRef<T>(spec: OpenApi, value: T | Ref): T {
  let v: unknown = value;
  for (let hops = 0; typeof v === "object" && v !== null && "$ref" in v && hops < 10; hops++) {
    const ref = (v as Ref).$ref;
    if (!ref.startsWith("#/")) throw new Error(`only local references are supported: ${ref}`);
    v = ref
      .slice(2)
      .split("/")
      .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], spec);
    if (v === undefined) throw new Error(`unresolved reference ${ref}`);
  }
  return v as T;
}

/** Each operation in document order: path, method (upper case), the operation, its parameters (path item's first). */
export function operations(spec: OpenApi): Array<{ path: string; method: string; op: Operation; parameters: Parameter[] }> {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => resolveRef<Parameter>(spec, p));
      out.push({ path, method: method.toUpperCase(), op, parameters });
    }
  }
  return out;
}

/** The security requirements that apply to an operation (its own, else the document's). */
export function securityOf(spec: OpenApi, op: Operation): Array<Record<string, string[]>> {
  return op.security ?? spec.security ?? [];
}

/** The name of the apiKey-in-header scheme and its header. */
function apiKeyScheme(spec: OpenApi): { scheme: string; header: string } {
  const found = Object.entries(spec.components?.securitySchemes ?? {}).find(([, s]) => s.type === "apiKey" && s.in === "header");
  if (found === undefined || found[1].name === undefined) throw new Error("the spec has no apiKey security scheme in a header");
  return { scheme: found[0], header: found[1].name };
}

function exampleOf(p: Parameter): string {
  if (p.example !== undefined) return String(p.example);
  if (p.schema?.default !== undefined) return String(p.schema.default);
  return "";
}

interface PostmanRequestItem {
  name: string;
  request: {
    method: string;
    description?: string;
    header: Array<{ key: string; value: string; type: "text"; disabled?: boolean; description?: string }>;
    url: {
      raw: string;
      host: string[];
      path: string[];
      query?: Array<{ key: string; value: string; disabled?: boolean; description?: string }>;
      variable?: Array<{ key: string; value: string; description?: string }>;
    };
    body?: { mode: "raw"; raw: string; options: { raw: { language: "json" } } } | { mode: "file"; file: { src: string } };
  };
  response: [];
}

export interface PostmanCollection {
  info: { _postman_id: string; name: string; description: string; schema: string };
  variable: Array<{ key: string; value: string; type: "string"; description: string }>;
  item: PostmanRequestItem[];
}

export function postmanFromOpenApi(spec: OpenApi): PostmanCollection {
  const key = apiKeyScheme(spec);
  const server = spec.servers?.[0];
  const baseUrlDefault = server?.variables?.baseUrl?.default ?? server?.url ?? "";
  const items: PostmanRequestItem[] = operations(spec).map(({ path, method, op, parameters }) => {
    const isPrivate = securityOf(spec, op).some((req) => key.scheme in req);
    const segments = path.split("/").filter((s) => s !== "").map((s) => s.replace(/^\{(.+)\}$/, ":$1"));
    const query = parameters
      .filter((p) => p.in === "query")
      .map((p) => ({ key: p.name, value: p.required ? `{{${p.name}}}` : exampleOf(p), ...(p.required ? {} : { disabled: true }), ...(p.description ? { description: p.description } : {}) }));
    const variable = parameters
      .filter((p) => p.in === "path")
      .map((p) => ({ key: p.name, value: p.name === "id" ? "{{imageId}}" : exampleOf(p), ...(p.description ? { description: p.description } : {}) }));
    const header: PostmanRequestItem["request"]["header"] = [];
    if (isPrivate) header.push({ key: key.header, value: "{{apiKey}}", type: "text" });
    for (const p of parameters.filter((q) => q.in === "header")) {
      header.push({ key: p.name, value: exampleOf(p), type: "text", ...(p.required ? {} : { disabled: true }), ...(p.description ? { description: p.description } : {}) });
    }
    let body: PostmanRequestItem["request"]["body"];
    const content = op.requestBody?.content;
    if (content !== undefined) {
      // The first media type listed is the one the request uses.
      const [mediaType, media] = Object.entries(content)[0]!;
      if (mediaType === "application/json") {
        header.push({ key: "Content-Type", value: "application/json", type: "text" });
        body = { mode: "raw", raw: JSON.stringify(media.example ?? {}, null, 2), options: { raw: { language: "json" } } };
      } else {
        header.push({ key: "Content-Type", value: mediaType === "image/*" ? "image/jpeg" : mediaType, type: "text" });
        body = { mode: "file", file: { src: "" } };
      }
    }
    const queryString = query.filter((q) => !q.disabled).map((q) => `${q.key}=${q.value}`).join("&");
    return {
      name: `${method} ${path}${op.summary ? `: ${op.summary}` : ""}`,
      request: {
        method,
        ...(op.description ? { description: op.description.trim() } : {}),
        header,
        url: {
          raw: `{{baseUrl}}/${segments.join("/")}${queryString === "" ? "" : `?${queryString}`}`,
          host: ["{{baseUrl}}"],
          path: segments,
          ...(query.length > 0 ? { query } : {}),
          ...(variable.length > 0 ? { variable } : {}),
        },
        ...(body === undefined ? {} : { body }),
      },
      response: [],
    };
  });
  return {
    info: {
      // Stable, so regenerating an unchanged spec changes nothing.
      _postman_id: uuidFrom(`${spec.info.title} ${spec.info.version}`),
      name: `${spec.info.title} ${spec.info.version}`,
      description: `Generated from openapi.yaml by scripts/postman-from-openapi.ts: do not edit by hand. Set baseUrl and apiKey in the collection's variables.`,
      schema: POSTMAN_SCHEMA,
    },
    variable: [
      { key: "baseUrl", value: baseUrlDefault, type: "string", description: "The API's base URL (npm start or deploy prints it), without a trailing slash." },
      { key: "apiKey", value: "", type: "string", description: "The API key, sent as x-api-key on every private request." },
      { key: "imageId", value: "", type: "string", description: "An id returned by POST /images or POST /uploads." },
    ],
    item: items,
  };
}

function uuidFrom(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The collection file's exact text. */
export function collectionText(spec: OpenApi = loadSpec()): string {
  return `${JSON.stringify(postmanFromOpenApi(spec), null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(dirname(COLLECTION_PATH), { recursive: true });
  writeFileSync(COLLECTION_PATH, collectionText());
  console.log(`wrote ${COLLECTION_PATH}`);
}
