// Images kept by an earlier `npm start` stay: local mode used s3rver until
// its own S3 replaced it, and s3rver kept a bucket as a folder tree beside
// this store (<data>/<bucket>/<key>._S3rver_object, with a metadata JSON).
// On start such a tree is moved into the store once, object by object, with
// its content type and x-amz-meta-* values, then removed.
import { createReadStream } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { ObjectStore } from "./objects.ts";

const OBJECT = "._S3rver_object";
const RESOURCES = [OBJECT, `${OBJECT}.md5`, "._S3rver_metadata.json"];

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else files.push(path);
  }
  return files;
}

/** The number of objects moved into the store; 0 when there is no s3rver tree for the bucket. */
export async function importS3rverBucket(store: ObjectStore, dataDir: string, bucket: string): Promise<number> {
  // <data>/buckets is the store's own folder, never an s3rver bucket.
  if (bucket === "buckets") return 0;
  const dir = join(dataDir, bucket);
  let files: string[];
  try {
    files = await filesUnder(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
  const objects = files.filter((f) => f.endsWith(OBJECT));
  for (const file of objects) {
    const key = relative(dir, file).slice(0, -OBJECT.length).split(sep).join("/");
    const metadata = await readFile(`${file.slice(0, -OBJECT.length)}._S3rver_metadata.json`, "utf8")
      .then((text) => JSON.parse(text) as Record<string, string>)
      .catch(() => ({}) as Record<string, string>);
    const userMetadata = Object.fromEntries(Object.entries(metadata).flatMap(([n, v]) => (n.startsWith("x-amz-meta-") ? [[n.slice("x-amz-meta-".length), String(v)]] : [])));
    await store.write(bucket, key, createReadStream(file), { contentType: metadata["content-type"] ?? "binary/octet-stream", userMetadata, headers: {} });
  }
  // Only a tree of s3rver's own files is removed; anything else there is left alone.
  if (objects.length > 0 && files.every((f) => RESOURCES.some((suffix) => f.endsWith(suffix)))) await rm(dir, { recursive: true, force: true });
  return objects.length;
}
