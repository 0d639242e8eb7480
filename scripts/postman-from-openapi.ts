// Reads openapi.yaml for the tests and scripts that check things against it:
// its operations in document order, local references, security. The Postman
// collection is made by scripts/postman-collection.ts (a user flow whose test
// scripts embed schemas derived from this spec by scripts/postman-schemas.ts).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const SPEC_PATH = `${ROOT}openapi.yaml`;
export const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

// The parts of an OpenAPI 3.1 document read here.
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
