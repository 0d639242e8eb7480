// Every relative link of README.md, SECURITY.md and docs/*.md resolves to a
// file of the repository (and a #fragment to a heading of that page), and
// README.md links every docs/ page: the docs are read, and their examples run,
// in that order (test/readme-curl.test.ts).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, test } from "node:test";
import { allPages, docsPages, readmeThenLinkedDocs, ROOT, type Page } from "./support/doc-pages.ts";

/** The page's text without fenced blocks and code spans, where "[x](y)" is not a link. */
function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```\s*$/gm, "").replace(/`[^`\n]*`/g, "");
}

function linksOf(page: Page): string[] {
  return [...prose(page.text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) => heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").trim().replace(/\s/g, "-");

function anchorsOf(path: string): Set<string> {
  const headings = prose(readFileSync(join(ROOT, path), "utf8")).match(/^#{1,6} .*$/gm) ?? [];
  return new Set(headings.map((h) => slug(h.replace(/^#+ /, ""))));
}

describe("links in the docs", () => {
  const pages = allPages();

  test("every relative link resolves to a file, and every #fragment to a heading", () => {
    let count = 0;
    for (const page of pages) {
      for (const target of linksOf(page)) {
        count++;
        const [file, fragment] = target.split("#") as [string, string | undefined];
        const path = file === "" ? page.path : normalize(join(dirname(page.path), decodeURI(file)));
        assert.ok(!path.startsWith(".."), `${page.path}: ${target} leaves the repository`);
        assert.ok(existsSync(join(ROOT, path)), `${page.path}: ${target} (${path}) does not exist`);
        if (fragment !== undefined && path.endsWith(".md")) assert.ok(anchorsOf(path).has(fragment), `${page.path}: ${target}: no heading #${fragment} in ${path}`);
      }
    }
    assert.ok(count >= 20, `${count} relative links read`);
  });

  test("README.md links every docs/ page", () => {
    const linked = readmeThenLinkedDocs().map((p) => p.path).slice(1);
    assert.deepEqual([...linked].sort(), docsPages());
  });
});
