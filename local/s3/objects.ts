// The local S3's objects on disk: one file per object, named by the SHA-256 of
// its key (any key is a safe file name: no path is ever built from a key),
// holding the bytes followed by the object's metadata as JSON and a trailer.
// A write goes to a temporary file renamed over the object at the end, so a
// reader sees the old object or the new one, metadata and bytes together,
// never a part: S3 replaces an object atomically. Keys are indexed in memory
// (read back at start) for listing.
//   <root>/buckets/<bucket>/<sha256(key)>
import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, rmdir, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { bucketNotEmpty } from "./errors.ts";

export interface ObjectFields {
  contentType: string;
  /** x-amz-meta-* values by lower-case name, without the prefix. */
  userMetadata: Record<string, string>;
  /** Stored and answered as sent: cache-control, content-disposition, content-encoding, content-language, expires. */
  headers: Record<string, string>;
}

export interface ObjectMeta extends ObjectFields {
  key: string;
  size: number;
  /** The MD5 of the bytes in hex, as S3's ETag of a single-part upload (without the quotes). */
  etag: string;
  lastModified: string;
}

export interface OpenObject {
  meta: ObjectMeta;
  /** The bytes; the file is closed when the stream ends or is destroyed. */
  body(): Readable;
  close(): Promise<void>;
}

const MAGIC = Buffer.from("ls3\x01", "latin1");
const TRAILER_BYTES = 8;
const MAX_META_BYTES = 64 * 1024;

/** S3's listing order: the keys' UTF-8 bytes. */
export const byKey = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

async function readMeta(handle: FileHandle): Promise<{ meta: ObjectMeta; size: number } | undefined> {
  const { size } = await handle.stat();
  if (size < TRAILER_BYTES) return undefined;
  const trailer = Buffer.alloc(TRAILER_BYTES);
  await handle.read(trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES);
  const length = trailer.readUInt32BE(0);
  if (!trailer.subarray(4).equals(MAGIC) || length > MAX_META_BYTES || length > size - TRAILER_BYTES) return undefined;
  const json = Buffer.alloc(length);
  await handle.read(json, 0, length, size - TRAILER_BYTES - length);
  try {
    const meta = JSON.parse(json.toString("utf8")) as ObjectMeta;
    return meta.size === size - TRAILER_BYTES - length ? { meta, size } : undefined;
  } catch {
    return undefined;
  }
}

export class ObjectStore {
  private readonly buckets = new Map<string, Map<string, ObjectMeta>>();
  private readonly locks = new Map<string, Promise<unknown>>();

  private constructor(readonly root: string) {}

  /** The store under root, its buckets and keys read back; partial writes of a killed run are removed. */
  static async open(root: string): Promise<ObjectStore> {
    const store = new ObjectStore(root);
    await mkdir(join(root, "buckets"), { recursive: true });
    for (const entry of await readdir(join(root, "buckets"), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const bucket = entry.name;
      const keys = new Map<string, ObjectMeta>();
      store.buckets.set(bucket, keys);
      for (const file of await readdir(join(root, "buckets", bucket))) {
        const path = join(root, "buckets", bucket, file);
        if (file.endsWith(".partial")) await rm(path, { force: true });
        else await store.readIndexEntry(path, file, keys);
      }
    }
    return store;
  }

  private async readIndexEntry(path: string, file: string, keys: Map<string, ObjectMeta>): Promise<void> {
    const handle = await open(path, "r");
    try {
      const read = await readMeta(handle);
      // A file that is not an object of this key is left alone, and not served.
      if (read !== undefined && this.fileName(read.meta.key) === file) keys.set(read.meta.key, read.meta);
    } finally {
      await handle.close();
    }
  }

  private fileName(key: string): string {
    return createHash("sha256").update(key, "utf8").digest("hex");
  }

  private path(bucket: string, key: string): string {
    return join(this.root, "buckets", bucket, this.fileName(key));
  }

  /** Runs fn after every earlier fn for the same object: its check and rename see a settled state. */
  private async locked<T>(bucket: string, key: string, fn: () => Promise<T>): Promise<T> {
    const id = `${bucket}/${key}`;
    const previous = this.locks.get(id) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(id, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    }
  }

  hasBucket(bucket: string): boolean {
    return this.buckets.has(bucket);
  }

  /** False when it was already there. */
  async createBucket(bucket: string): Promise<boolean> {
    if (this.buckets.has(bucket)) return false;
    await mkdir(join(this.root, "buckets", bucket), { recursive: true });
    this.buckets.set(bucket, new Map());
    return true;
  }

  async deleteBucket(bucket: string): Promise<void> {
    if ((this.buckets.get(bucket)?.size ?? 0) > 0) throw bucketNotEmpty({ BucketName: bucket });
    this.buckets.delete(bucket);
    await rmdir(join(this.root, "buckets", bucket)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
  }

  /** The listed state of a key (what ListObjects sees); undefined when absent. */
  head(bucket: string, key: string): ObjectMeta | undefined {
    return this.buckets.get(bucket)?.get(key);
  }

  /** The object as it is on disk now, metadata and bytes from one file; undefined when absent. */
  async open(bucket: string, key: string): Promise<OpenObject | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.path(bucket, key), "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    const read = await readMeta(handle).catch(async (e: unknown) => {
      await handle.close();
      throw e;
    });
    if (read === undefined || read.meta.key !== key) {
      await handle.close();
      return undefined;
    }
    const { meta } = read;
    return {
      meta,
      body: () => {
        if (meta.size > 0) return createReadStream("", { fd: handle, start: 0, end: meta.size - 1, autoClose: true });
        void handle.close();
        return Readable.from([]);
      },
      close: () => handle.close(),
    };
  }

  /**
   * Writes the bytes to a temporary file, then, once `verify` accepts what was
   * written and `precondition` the object in place, renames it over the object.
   * Nothing changes when either throws or the source fails (a dropped upload).
   */
  async write(
    bucket: string,
    key: string,
    source: AsyncIterable<Buffer>,
    fields: ObjectFields,
    checks: { verify?: () => void; precondition?: (current: ObjectMeta | undefined) => void } = {},
  ): Promise<ObjectMeta> {
    const target = this.path(bucket, key);
    const temp = `${target}.${randomUUID()}.partial`;
    const handle = await open(temp, "wx");
    let closed = false;
    try {
      const md5 = createHash("md5");
      let size = 0;
      for await (const chunk of source) {
        md5.update(chunk);
        size += chunk.length;
        await handle.write(chunk);
      }
      checks.verify?.();
      const meta: ObjectMeta = { key, size, etag: md5.digest("hex"), lastModified: new Date().toISOString(), ...fields };
      const json = Buffer.from(JSON.stringify(meta), "utf8");
      const length = Buffer.alloc(4);
      length.writeUInt32BE(json.length);
      await handle.write(Buffer.concat([json, length, MAGIC]));
      await handle.close();
      closed = true;
      return await this.locked(bucket, key, async () => {
        const keys = this.buckets.get(bucket);
        if (keys === undefined) throw new Error(`bucket ${bucket} was deleted during the write`);
        checks.precondition?.(keys.get(key));
        await rename(temp, target);
        keys.set(key, meta);
        return meta;
      });
    } catch (e) {
      if (!closed) await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw e;
    }
  }

  /** Deleting an absent key is no error, as in S3. */
  async remove(bucket: string, key: string): Promise<void> {
    await this.locked(bucket, key, async () => {
      await rm(this.path(bucket, key), { force: true });
      this.buckets.get(bucket)?.delete(key);
    });
  }

  /** Keys with the prefix, after `after`, in S3's order: at most `max`, and whether more follow. */
  list(bucket: string, options: { prefix: string; after?: string; max: number }): { objects: ObjectMeta[]; truncated: boolean } {
    const keys = [...(this.buckets.get(bucket)?.values() ?? [])]
      .filter((m) => m.key.startsWith(options.prefix) && (options.after === undefined || byKey(m.key, options.after) > 0))
      .sort((a, b) => byKey(a.key, b.key));
    return { objects: keys.slice(0, options.max), truncated: keys.length > options.max };
  }
}
