// S3's XML both ways: the documents the local S3 answers (errors, listings,
// DeleteObjects and CopyObject results), and a small strict reader for the two
// bodies it accepts (Delete, CreateBucketConfiguration). The reader takes
// elements, attributes, text and the five predefined entities only: no
// DOCTYPE, entity definitions, comments or CDATA, so no entity expansion and
// no surprise; anything else is MalformedXML, as S3 answers.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
import { malformedXml, type S3Error } from "./errors.ts";

export const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/";
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Text for an XML element: markup characters and those XML cannot carry are escaped. */
export function escapeXml(text: string): string {
  // eslint-disable-next-line no-control-regex -- the control characters XML 1.0 cannot carry raw
  return text.replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => {
    const named: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
    return named[c] ?? `&#x${c.charCodeAt(0).toString(16)};`;
  });
}

/** An element to write: its name, and its text or its child elements. */
export type Element = readonly [name: string, content: string | number | boolean | undefined | readonly Element[]];

function render([name, content]: Element): string {
  const inner = content === undefined ? "" : typeof content === "object" ? content.map(render).join("") : escapeXml(String(content));
  return `<${name}>${inner}</${name}>`;
}

/** A document: the root element (in S3's namespace, unless told otherwise) around its children. */
export function document(root: string, children: readonly Element[], namespaced = true): string {
  return `${DECLARATION}<${root}${namespaced ? ` xmlns="${S3_NAMESPACE}"` : ""}>${children.map(render).join("")}</${root}>`;
}

export function errorDocument(error: S3Error, requestId: string): string {
  const details = Object.entries(error.details).map(([name, value]) => [name, value] as const);
  return document("Error", [["Code", error.code], ["Message", error.message], ...details, ["RequestId", requestId], ["HostId", requestId]], false);
}

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const MAX_DEPTH = 16;

function decodeText(raw: string): string {
  return raw.replace(/&([^;&<]{1,10});/g, (_, entity: string) => {
    const code = entity.startsWith("#x") ? parseInt(entity.slice(2), 16) : entity.startsWith("#") ? parseInt(entity.slice(1), 10) : undefined;
    if (code !== undefined) {
      if (!Number.isInteger(code) || code < 1 || code > 0x10ffff) throw malformedXml();
      return String.fromCodePoint(code);
    }
    const named = Object.hasOwn(ENTITIES, entity) ? ENTITIES[entity] : undefined;
    if (named === undefined) throw malformedXml();
    return named;
  });
}

/** The root element of a small XML body; MalformedXML for anything outside the subset. */
export function parseXml(body: string): XmlElement {
  const text = body.replace(/^\uFEFF/, "").replace(/^\s*<\?xml\s[^?]*\?>/, "");
  const tag = /<(\/?)([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  const textRun = /[^<]+/y;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let at = 0;
  while (at < text.length) {
    textRun.lastIndex = at;
    const run = textRun.exec(text);
    if (run !== null) {
      const top = stack.at(-1);
      if (top === undefined) {
        if (run[0].trim() !== "") throw malformedXml();
      } else top.text += decodeText(run[0]);
      at = textRun.lastIndex;
      continue;
    }
    tag.lastIndex = at;
    const m = tag.exec(text);
    if (m === null) throw malformedXml();
    at = tag.lastIndex;
    const [, closing, qualified, , selfClosing] = m;
    const name = qualified!.replace(/^[^:]*:/, "");
    if (closing === "/") {
      if (selfClosing === "/" || stack.pop()?.name !== name) throw malformedXml();
      continue;
    }
    const element: XmlElement = { name, children: [], text: "" };
    if (stack.length === 0) {
      if (root !== undefined) throw malformedXml();
      root = element;
    } else stack.at(-1)!.children.push(element);
    if (selfClosing !== "/") stack.push(element);
    if (stack.length > MAX_DEPTH) throw malformedXml();
  }
  if (root === undefined || stack.length > 0) throw malformedXml();
  return root;
}

/** An element's only child of that name; MalformedXML when repeated (or absent, if required). */
export function onlyChild(element: XmlElement, name: string, required: boolean): XmlElement | undefined {
  const found = element.children.filter((c) => c.name === name);
  if (found.length > 1 || (required && found.length === 0)) throw malformedXml();
  return found[0];
}

/** MalformedXML when an element has children other than those named, or text beside them. */
export function allowOnly(element: XmlElement, names: readonly string[]): void {
  if (element.children.some((c) => !names.includes(c.name))) throw malformedXml();
  if (element.children.length > 0 && element.text.trim() !== "") throw malformedXml();
}
