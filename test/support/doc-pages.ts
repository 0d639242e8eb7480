// The documentation as the docs tests read it: README.md, then every page of
// docs/ in the order README.md links them (the order a newcomer reads them,
// and the order their examples run in), and the shell blocks of each page.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname;

export interface Page {
  /** Path from the repository root, e.g. docs/api.md. */
  path: string;
  text: string;
}

export interface Block {
  page: string;
  /** Line of the opening fence, for messages. */
  line: number;
  /** The fence's info string: sh, text, json, "" ... */
  lang: string;
  text: string;
}

const read = (path: string): Page => ({ path, text: readFileSync(join(ROOT, path), "utf8") });

/** Every docs/*.md page, sorted by name. */
export function docsPages(): string[] {
  return readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`)
    .sort();
}

/** README.md, then the docs/ pages it links, in link order (each once). */
export function readmeThenLinkedDocs(): Page[] {
  const readme = read("README.md");
  const linked = [...readme.text.matchAll(/\]\((docs\/[\w.-]+\.md)\)/g)].map((m) => m[1]!);
  return [readme, ...[...new Set(linked)].map(read)];
}

/** Every page that holds documentation: README.md, SECURITY.md and docs/*.md. */
export function allPages(): Page[] {
  return ["README.md", "SECURITY.md", ...docsPages()].map(read);
}

/** The fenced code blocks of a page, in order. */
export function fencedBlocks(page: Page): Block[] {
  const blocks: Block[] = [];
  const lines = page.text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i]!);
    blocks.push({ page: page.path, line: start + 1, lang: open[1]!, text: body.join("\n") });
  }
  return blocks;
}

export const isShell = (b: Block) => ["sh", "bash", "shell"].includes(b.lang);

/** Logical commands: a line ending in "\" or "|" goes on with the next one; comment lines are left out. */
export function commandsOf(text: string): string[] {
  const commands: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.endsWith("\\")) current += `${line.slice(0, -1).trimEnd()} `;
    else if (line.endsWith("|")) current += `${line} `;
    else {
      commands.push(current + line);
      current = "";
    }
  }
  if (current !== "") commands.push(current.trim());
  return commands;
}

/** Shell words of a simple command (no expansions), up to an unquoted "#" comment. */
export function wordsOf(command: string): string[] {
  const words: string[] = [];
  const pattern = /\s*(?:'([^']*)'|"([^"]*)"|(#.*)|([^\s'"#]+))/gy;
  let m: RegExpExecArray | null;
  while ((m = pattern.exec(command)) !== null && m[0] !== "") {
    if (m[3] !== undefined) break;
    words.push(m[1] ?? m[2] ?? m[4]!);
  }
  return words;
}

const CURL = /(?:^|[\s|;&({]|\$\()curl\s/g;
export const curlCount = (command: string) => withoutComment(command).match(CURL)?.length ?? 0;

/** The command up to an unquoted "#" that starts a word (a shell comment). */
export function withoutComment(command: string): string {
  let quote = "";
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote !== "") {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(command[i - 1]!))) return command.slice(0, i).trimEnd();
  }
  return command;
}
const isAssignment = (command: string) => /^[A-Z_][A-Z0-9_]*=\S*$/.test(command);
export const isNewman = (command: string) => command.startsWith("npx newman run ");

/** Whether test/readme-curl.test.ts runs a block: one with a curl or newman, or one only setting variables (API=, KEY=). */
export function isRunByCurlTest(block: Block): boolean {
  const commands = commandsOf(block.text);
  return commands.some((c) => curlCount(c) > 0 || isNewman(c)) || (commands.length > 0 && commands.every(isAssignment));
}

export const runnable = (blocks: Block[]): Block[] => blocks.filter(isRunByCurlTest);
