// POST /images: store an upload under originals/ after proving it is an
// allowed, readable image within the limits, with the placeholder and focal
// point; with sizesAt "upload", every size too, from the same decode. Ids are
// generated here, never taken from the caller.
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { MIME_TYPES } from "../image/formats.ts";
import { parseFocusText, type Focus } from "../image/crop.ts";
import { assertDecodes, budgetOf, inspectImage, type ImageInfo } from "../image/inspect.ts";
import { placeholderOf } from "../image/placeholder.ts";
import { renderImage } from "../image/render.ts";
import { bodyBytes, decodeBase64, header, query } from "../http/request.ts";
import { json } from "../http/response.ts";
import type { ImageStore, OriginalMeta } from "../storage/image-store.ts";
import { targetOf } from "../variants.ts";
import { originalEntry, placeholderEntry, variantEntry, type PublicUrlSigner } from "./image-answer.ts";
import { imageLink, sizeLink } from "./links.ts";

const JSON_SLACK = 64 * 1024; // room for the JSON around the base64 image

// A UTF-16 surrogate without its other half: not text, and encodeURIComponent throws on it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A display name only: the last path segment, printable, well-formed, at most 200 characters. */
export function cleanName(name: unknown): string | undefined {
  if (name === undefined || name === null) return undefined;
  if (typeof name !== "string") throw new ApiError("INVALID_REQUEST", `"name" must be a string, not ${typeof name}.`);
  // eslint-disable-next-line no-control-regex
  const printable = name.split(/[/\\]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  // Cut first, so a pair cut in two at 200 loses its lone half too.
  const base = printable.slice(0, 200).replace(LONE_SURROGATE, "");
  return base === "" ? undefined : base;
}

function parseUpload(event: APIGatewayProxyEvent, settings: RuntimeSettings): { data: Buffer; name?: string } {
  const maxBytes = settings.input.maxBytes;
  const contentType = (header(event, "content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (contentType !== "application/json") {
    const name = cleanName(query(event, "name"));
    return { data: bodyBytes(event, maxBytes), ...(name === undefined ? {} : { name }) };
  }
  // JSON may arrive base64-encoded too (all media types are binary for this API).
  const text = bodyBytes(event, Math.ceil(maxBytes * 1.34) + JSON_SLACK).toString("utf8");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ApiError("INVALID_REQUEST", "The body is not valid JSON. Send {\"image\": \"<base64>\", \"name\": \"cat.jpg\"}.");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ApiError("INVALID_REQUEST", "The JSON body must be an object: {\"image\": \"<base64>\", \"name\": \"cat.jpg\"}.");
  }
  const { image, name } = doc as { image?: unknown; name?: unknown };
  if (typeof image !== "string" || image === "") {
    throw new ApiError("INVALID_REQUEST", "The JSON body needs \"image\": the image as a base64 string.");
  }
  // Accept a data URL as browsers' FileReader makes it.
  const payload = image.replace(/^data:[^,]{0,100};base64,/, "");
  const cleaned = cleanName(name);
  return { data: decodeBase64(payload, "\"image\"", maxBytes), ...(cleaned === undefined ? {} : { name: cleaned }) };
}

/** POST /images?focus=x,y: where every cover crop keeps in frame. */
function parseFocusQuery(event: APIGatewayProxyEvent): Focus | undefined {
  const text = query(event, "focus");
  return text === undefined ? undefined : parseFocusText(text);
}

type Checked = Omit<OriginalMeta, "key">;

/**
 * sizesAt "upload": every size made from the decode that checks the upload,
 * as the listing would make them for this request's Accept. The sizes are
 * stored before the original, so the image exists only once they all do; if
 * any write fails, those written are deleted.
 */
async function storeWithSizes(event: APIGatewayProxyEvent, settings: RuntimeSettings, store: ImageStore, data: Buffer, info: ImageInfo, facts: Checked) {
  const accept = header(event, "accept");
  const targets = Object.keys(settings.sizes).map((size) => targetOf(settings, facts.id, size, facts, accept));
  const made = await renderImage(data, info, targets.map((t) => [t.size, t.spec] as const), settings, budgetOf(settings.input), { placeholder: true, focus: facts.focus });
  const checked = { ...facts, placeholder: made.placeholder! };
  // Settled, not raced: a write still under way when another failed must be deleted too.
  const puts = await Promise.allSettled(targets.map((t, i) => store.putVariant(t.key, made.variants[i]!, t.tag)));
  const metas = puts.flatMap((p) => (p.status === "fulfilled" ? [p.value] : []));
  try {
    const failed = puts.find((p) => p.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    return { original: await store.putOriginal(checked, data, MIME_TYPES[info.format]), metas };
  } catch (e) {
    await store.deleteVariants(metas.map((m) => m.key)).catch(() => undefined);
    throw e;
  }
}

export async function uploadImage(
  event: APIGatewayProxyEvent,
  settings: RuntimeSettings,
  store: ImageStore,
  base: string,
  publicUrl?: PublicUrlSigner,
  /** auth "jwt": the uploader's subject, stored with the original. */
  owner?: string,
): Promise<APIGatewayProxyResult & { bytesIn: number }> {
  const { data, name } = parseUpload(event, settings);
  const focus = parseFocusQuery(event);
  const info = await inspectImage(data, settings.input);
  const id = randomUUID();
  const facts: Checked = {
    id, format: info.format, width: info.width, height: info.height, hasAlpha: info.hasAlpha, bytes: data.length,
    ...(name === undefined ? {} : { name }), ...(focus === undefined ? {} : { focus }), ...(owner === undefined ? {} : { owner }),
  };
  let original: OriginalMeta;
  let variants: ReturnType<typeof variantEntry>[] | undefined;
  if (settings.sizesAt === "upload") {
    const stored = await storeWithSizes(event, settings, store, data, info, facts);
    original = stored.original;
    variants = Object.keys(settings.sizes).map((size, i) => variantEntry(base, id, size, stored.metas[i]!, true, publicUrl));
  } else {
    // The decode that proves the upload readable also gives its placeholder.
    const placeholder = placeholderOf(await assertDecodes(data, settings.input, budgetOf(settings.input)));
    original = await store.putOriginal({ ...facts, placeholder }, data, MIME_TYPES[info.format]);
  }
  const self = imageLink(base, id);
  const result = json(
    201,
    {
      id,
      original: originalEntry(original),
      ...placeholderEntry(original),
      ...(variants === undefined ? {} : { variants }),
      links: {
        self,
        sizes: Object.fromEntries(Object.keys(settings.sizes).map((size) => [size, sizeLink(base, id, size)])),
      },
    },
    { Location: self },
  );
  return { ...result, bytesIn: data.length };
}
