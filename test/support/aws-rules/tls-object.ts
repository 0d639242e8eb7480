// One object of a bucket whose policy denies plain HTTP (the TLS-only deny
// every bucket of the stack has), kept by the proxy instead of moto: moto
// evaluates bucket policies without their conditions (moto/s3/models.py,
// get_permission), so it refuses every request to the bucket's objects over
// its plain-HTTP endpoint, where AWS would allow the same request over TLS.
// Only PUT, HEAD, GET and DELETE of that key, with its user metadata.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit
import type { Fault, FaultProxy } from "../fault-proxy.ts";

export function tlsObject(proxy: FaultProxy, bucket: string, key: string): { stored(): Buffer | undefined } {
  let object: { body: Buffer; meta: Record<string, string>; etag: string } | undefined;
  proxy.inject({
    name: "tls object",
    match: { service: "s3", path: new RegExp(`^/${bucket}/${key.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`) },
    times: Infinity,
    fault: (req): Fault => {
      if (req.method === "PUT") {
        const meta = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-amz-meta-")).map(([k, v]) => [k, String(v)]));
        object = { body: req.body, meta, etag: `"${object === undefined ? 1 : Number(object.etag.slice(1, -1)) + 1}"` };
        return { kind: "respond", status: 200, headers: { ETag: object.etag } };
      }
      if (req.method === "DELETE") {
        object = undefined;
        return { kind: "respond", status: 204 };
      }
      if (object === undefined) return { kind: "respond", status: 404, body: `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`, headers: { "Content-Type": "application/xml" } };
      return { kind: "respond", status: 200, body: req.method === "HEAD" ? "" : object.body.toString("latin1"), headers: { ...object.meta, ETag: object.etag, "Content-Type": "application/octet-stream" } };
    },
  });
  return { stored: () => object?.body };
}
