// The JSON schemas the Postman collection's test scripts check answers with,
// derived from openapi.yaml so they cannot drift from it: the collection
// embeds what this makes, and test/postman.test.ts recomputes each one.
//
// Postman's sandbox validates with Ajv 6 (JSON Schema draft-07), where a
// keyword next to "$ref" is ignored, while openapi.yaml is OpenAPI 3.1 (2020-12),
// where it applies: `{$ref: Error, properties: {error: {properties: {code:
// {enum}}}}}` narrows the code. So every reference is inlined and a "$ref"
// with siblings becomes an allOf, and annotations Ajv has no use for go.
import { resolveRef, type OpenApi } from "./postman-from-openapi.ts";

export type JsonSchema = Record<string, unknown>;
/** Words for people or for other tools: Ajv ignores them, and they bloat the scripts. */
const ANNOTATIONS = new Set(["description", "examples", "example", "contentMediaType", "$comment", "title", "x-status"]);

/** The node a local "#/..." pointer names. */
function pointer(spec: OpenApi, ref: string): unknown {
  if (!ref.startsWith("#/")) throw new Error(`only local references are supported: ${ref}`);
  const node = ref
    .slice(2)
    .split("/")
    .reduce<unknown>((n, part) => (n as Record<string, unknown> | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], spec);
  if (node === undefined) throw new Error(`unresolved reference ${ref}`);
  return node;
}

/** A self-contained draft-07 schema: references inlined (siblings kept through allOf), annotations dropped. */
export function draft07(spec: OpenApi, schema: unknown, seen: string[] = []): unknown {
  if (Array.isArray(schema)) return schema.map((s) => draft07(spec, s, seen));
  if (typeof schema !== "object" || schema === null) return schema;
  const { $ref, ...rest } = schema as JsonSchema;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(rest)) {
    if (ANNOTATIONS.has(k)) continue;
    // "properties" maps names to schemas: a property may be called "description".
    out[k] = k === "properties" ? Object.fromEntries(Object.entries(v as JsonSchema).map(([name, s]) => [name, draft07(spec, s, seen)])) : draft07(spec, v, seen);
  }
  if (typeof $ref !== "string") return out;
  if (seen.includes($ref)) throw new Error(`recursive schema ${[...seen, $ref].join(" -> ")}: cannot inline`);
  // One hop only: a target that is itself a "$ref" with siblings keeps them.
  const target = draft07(spec, pointer(spec, $ref), [...seen, $ref]);
  return Object.keys(out).length === 0 ? target : { allOf: [target, out] };
}

interface Response {
  headers?: Record<string, { $ref?: string; schema?: JsonSchema }>;
  content?: Record<string, { schema?: unknown }>;
}

function responseOf(spec: OpenApi, method: string, path: string, status: number): Response {
  const op = spec.paths[path]?.[method.toLowerCase() as "get"];
  if (op === undefined) throw new Error(`openapi.yaml has no ${method} ${path}`);
  let response = op.responses?.[String(status)] as (Response & { $ref?: string }) | undefined;
  if (response === undefined) throw new Error(`openapi.yaml documents no ${status} for ${method} ${path}`);
  if (response.$ref !== undefined) response = resolveRef<Response>(spec, { $ref: response.$ref });
  return response;
}

/** The JSON body's schema for one documented answer; undefined when that answer has no JSON body. */
export function bodySchema(spec: OpenApi, method: string, path: string, status: number): JsonSchema | undefined {
  const schema = responseOf(spec, method, path, status).content?.["application/json"]?.schema;
  return schema === undefined ? undefined : (draft07(spec, schema) as JsonSchema);
}

/** One component schema, for an answer the operation's responses do not describe (see postman-flow.ts). */
export function componentSchema(spec: OpenApi, name: string): JsonSchema {
  return draft07(spec, { $ref: `#/components/schemas/${name}` }) as JsonSchema;
}

/**
 * The documented headers of one answer as an object schema over lower-cased
 * names (the test script builds that object from the response), `required`
 * the ones named.
 */
export function headerSchema(spec: OpenApi, method: string, path: string, status: number, required: string[]): JsonSchema {
  const headers = responseOf(spec, method, path, status).headers ?? {};
  const properties: JsonSchema = {};
  for (const [name, value] of Object.entries(headers)) {
    const header = (value.$ref === undefined ? value : resolveRef(spec, { $ref: value.$ref })) as { schema?: JsonSchema };
    // Header values arrive as text: an integer header (Retry-After) is checked as digits.
    const schema = header.schema?.type === "integer" ? { type: "string", pattern: "^\\d+$" } : (draft07(spec, header.schema ?? {}) as JsonSchema);
    properties[name.toLowerCase()] = schema;
  }
  for (const name of required) if (!(name.toLowerCase() in properties)) throw new Error(`openapi.yaml documents no ${name} header for ${method} ${path} ${status}`);
  return { type: "object", required: required.map((n) => n.toLowerCase()), properties };
}
