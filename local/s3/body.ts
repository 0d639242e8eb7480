// Request bodies for the local S3, always bounded: small ones (XML) read
// whole up to a cap, object bodies streamed to disk through the integrity
// checks S3 makes (the signed payload hash, Content-MD5, x-amz-checksum-*),
// and refused ones drained up to a cap so the client can read the answer.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
import { createHash, type Hash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { UNSIGNED_PAYLOAD } from "../sigv4-canonical.ts";
import { header, type RequestContext } from "./context.ts";
import * as err from "./errors.ts";

/** Bodies S3 reads as XML (DeleteObjects' 1000 keys of up to 1 KiB each fit). */
export const MAX_XML_BODY_BYTES = 2 * 1024 * 1024;
/** A refused upload is read (and dropped) up to this much before answering, beyond that the connection is closed. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/** Whether the request stream already failed or closed: no "end" or "close" event will come any more. */
const isOver = (req: IncomingMessage) => req.destroyed || req.closed || req.errored !== null;

/**
 * The body, whole, or MaxMessageLengthExceeded past the cap. Reading stops
 * there without destroying the request, so the answer can still be sent.
 */
export function readSmallBody(req: IncomingMessage, cap = MAX_XML_BODY_BYTES): Promise<Buffer> {
  if (Number(req.headers["content-length"] ?? 0) > cap) return Promise.reject(err.maxMessageLengthExceeded());
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (isOver(req)) return Promise.reject(err.incompleteBody());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) finish(err.maxMessageLengthExceeded());
      else chunks.push(chunk);
    };
    const finish = (failure?: err.S3Error) => {
      req.off("data", onData).off("end", onEnd).off("close", onClose);
      req.pause();
      if (failure === undefined) resolve(Buffer.concat(chunks));
      else reject(failure);
    };
    const onEnd = () => finish();
    // Closed before the end: the client sent less than its Content-Length, or went away.
    const onClose = () => finish(err.incompleteBody());
    req.on("data", onData).once("end", onEnd).once("close", onClose);
  });
}

/** A small body read whole and checked against the signed payload hash and any checksum header. */
export async function checkedBody(ctx: RequestContext): Promise<{ body: Buffer; hasChecksum: boolean }> {
  const body = await readSmallBody(ctx.req);
  const checks = integrityChecks((n) => header(ctx, n), Object.keys(ctx.headers), ctx.auth.payloadHash);
  checks.update(body);
  checks.verify();
  return { body, hasChecksum: checks.hasChecksum };
}

/**
 * Reads and drops what is left of a refused request's body, so the client,
 * still sending, gets the answer rather than a reset. False when the body is
 * too large to wait for: the caller closes the connection instead.
 */
export function drain(req: IncomingMessage): Promise<boolean> {
  if (req.readableEnded) return Promise.resolve(true);
  if (isOver(req)) return Promise.resolve(false);
  if (Number(req.headers["content-length"] ?? 0) > MAX_DRAIN_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DRAIN_BYTES) finish(false);
    };
    const finish = (all: boolean) => {
      req.off("data", onData).off("end", onEnd).off("close", onClose);
      resolve(all);
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(false);
    req.on("data", onData).once("end", onEnd).once("close", onClose);
    req.resume();
  });
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE), as x-amz-checksum-crc32 carries it; zlib.crc32 needs Node 20.15. */
class Crc32 {
  private crc = 0xffffffff;
  update(chunk: Buffer): void {
    let c = this.crc;
    for (const byte of chunk) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
    this.crc = c;
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.crc ^ 0xffffffff) >>> 0);
    return out;
  }
}

interface Check {
  header: string;
  expected: Buffer;
  hash: Hash | Crc32;
  /** S3's error when the bytes do not match. */
  mismatch: () => err.S3Error;
}

/** x-amz-checksum-* algorithms the local S3 verifies, with their digest sizes. */
const CHECKSUMS: Record<string, { bytes: number; make: () => Hash | Crc32 }> = {
  "x-amz-checksum-crc32": { bytes: 4, make: () => new Crc32() },
  "x-amz-checksum-sha1": { bytes: 20, make: () => createHash("sha1") },
  "x-amz-checksum-sha256": { bytes: 32, make: () => createHash("sha256") },
};

/**
 * The integrity checks a body must pass: the signed payload hash, Content-MD5
 * and any x-amz-checksum-*. Digests are fed as the bytes arrive; verify()
 * throws S3's error for the first that does not match.
 */
export function integrityChecks(header: (name: string) => string | undefined, names: readonly string[], payloadHash: string) {
  const checks: Check[] = [];
  if (payloadHash !== UNSIGNED_PAYLOAD) {
    const expected = Buffer.from(payloadHash, "hex");
    checks.push({
      header: "x-amz-content-sha256",
      expected,
      hash: createHash("sha256"),
      mismatch: () => err.contentSha256Mismatch({ ClientComputedContentSHA256: payloadHash }),
    });
  }
  const md5 = header("content-md5");
  if (md5 !== undefined) checks.push({ header: "content-md5", expected: decodeDigest(md5, 16), hash: createHash("md5"), mismatch: () => err.badDigest() });
  // x-amz-checksum-mode and -type are settings, not values.
  for (const name of names.filter((n) => /^x-amz-checksum-(crc\d+\w*|sha\d+)$/.test(n))) {
    const algorithm = Object.hasOwn(CHECKSUMS, name) ? CHECKSUMS[name] : undefined;
    if (algorithm === undefined) throw err.notImplemented({ Header: name, AdditionalMessage: "the local S3 verifies crc32, sha1 and sha256 checksums only" });
    checks.push({ header: name, expected: decodeDigest(header(name)!, algorithm.bytes), hash: algorithm.make(), mismatch: () => err.badDigest() });
  }
  return {
    /** Whether any check asks for a digest of the body (DeleteObjects needs one). */
    hasChecksum: checks.some((c) => c.header !== "x-amz-content-sha256"),
    update(chunk: Buffer): void {
      for (const check of checks) check.hash.update(chunk);
    },
    verify(): void {
      const failed = checks.find((c) => !c.hash.digest().equals(c.expected));
      if (failed !== undefined) throw failed.mismatch();
    },
  };
}

function decodeDigest(base64: string, bytes: number): Buffer {
  const digest = Buffer.from(base64, "base64");
  if (digest.length !== bytes || digest.toString("base64") !== base64) throw err.invalidDigest();
  return digest;
}
