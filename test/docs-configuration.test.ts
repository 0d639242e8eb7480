// docs/configuration.md against config/schema.ts: every field of the schema
// has its own row (so a new field cannot ship undocumented), and every row
// names a field the schema has (so a removed or renamed one cannot linger).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { configSchema } from "../config/schema.ts";
import { ROOT } from "./support/doc-pages.ts";

interface Def {
  type: string;
  innerType?: { _zod: { def: Def } };
  shape?: Record<string, { _zod: { def: Def } }>;
  valueType?: { _zod: { def: Def } };
}

/** The schema's leaf fields as dotted paths; a record's keys are "<name>" (sizes.<name>.width). */
function fieldsOf(def: Def, path: string): string[] {
  if (def.innerType !== undefined && ["optional", "default", "prefault", "nullable"].includes(def.type)) return fieldsOf(def.innerType._zod.def, path);
  if (def.type === "object") return Object.entries(def.shape!).flatMap(([key, value]) => fieldsOf(value._zod.def, path === "" ? key : `${path}.${key}`));
  if (def.type === "record") return fieldsOf(def.valueType!._zod.def, `${path}.<name>`);
  return [path];
}

/** The field each row of the page's tables documents: the code span that opens the row. */
function documentedFields(markdown: string): string[] {
  return [...markdown.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

describe("docs/configuration.md", () => {
  const fields = fieldsOf((configSchema as unknown as { _zod: { def: Def } })._zod.def, "");
  const rows = documentedFields(readFileSync(join(ROOT, "docs/configuration.md"), "utf8"));

  test("has a row for every field of config/schema.ts", () => {
    assert.ok(fields.length > 40 && fields.includes("sizes.<name>.width") && fields.includes("jwt.scopes.read"), `the schema walk found ${fields.join(", ")}`);
    const missing = fields.filter((f) => !rows.includes(f));
    assert.deepEqual(missing, [], `fields of config/schema.ts without a row in docs/configuration.md: ${missing.join(", ")}`);
  });

  test("documents no field the schema does not have, and each once", () => {
    assert.deepEqual(rows.filter((r) => !fields.includes(r)), [], "rows naming no field of config/schema.ts");
    assert.deepEqual(rows.filter((r, i) => rows.indexOf(r) !== i), [], "fields with two rows");
  });
});
