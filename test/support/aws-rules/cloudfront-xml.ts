// Just enough XML for the CloudFront stand-in (cloudfront.ts): CloudFront is
// REST-XML, and the stand-in keeps configurations as the SDK sent them and
// answers them back, reading a few fields on the way. A field is read at a
// given nesting level, since names repeat inside (every list has Items,
// TrustedKeyGroups and Logging have their own Enabled).
import type { RespondFault } from "../aws-errors.ts";

const TAG = /<(\/?)([A-Za-z0-9_]+)[^>]*?(\/?)>/g;

/** The inner text of the first element `tag` that has `depth` open ancestors in `xml`. */
export function child(xml: string, tag: string, depth: number): string | undefined {
  let level = 0;
  let start = -1;
  for (const m of xml.matchAll(TAG)) {
    const [whole, closing, name, selfClosing] = m;
    if (selfClosing) {
      if (level === depth && name === tag && start < 0) return "";
      continue;
    }
    if (!closing) {
      if (level === depth && name === tag && start < 0) start = m.index + whole.length;
      level += 1;
    } else {
      level -= 1;
      if (level === depth && name === tag && start >= 0) return xml.slice(start, m.index);
    }
  }
  return undefined;
}

export const el = (tag: string, inner: string | number | boolean) => `<${tag}>${inner}</${tag}>`;

const XMLNS = ' xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"';
export const doc = (tag: string, inner: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<${tag}${XMLNS}>${inner}</${tag}>`;

export function xmlAnswer(status: number, body: string, headers: Record<string, string> = {}): RespondFault {
  return { kind: "respond", status, body, headers: { "Content-Type": "text/xml", ...headers } };
}

/** CloudFront's error shape: https://docs.aws.amazon.com/cloudfront/latest/APIReference/CommonErrors.html */
export function cloudFrontError(status: number, code: string, message: string): RespondFault {
  const body = doc("ErrorResponse", `<Error><Type>Sender</Type>${el("Code", code)}${el("Message", message)}</Error><RequestId>stand-in</RequestId>`);
  return xmlAnswer(status, body);
}

let serial = 0;
/** An opaque version, new at every change (CloudFront's ETags look like E2QWRUHAPOMQZL). */
export const newETag = () => `E${(++serial).toString(36).toUpperCase().padStart(12, "0")}`;
