// What the benchmark resizes: real photos from the test fixtures, one of each
// kind the API takes most, and the generated 24 MP JPEG the acceptance
// figures are measured on.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RuntimeSettings } from "../config/schema.ts";
import { inspectImage, type ImageInfo } from "../function/image/inspect.ts";
import { syntheticPhotoJpeg } from "./synthetic-photo.ts";

const FIXTURES = new URL("../test/fixtures/images/", import.meta.url).pathname;

export interface BenchInput {
  id: string;
  label: string;
  buf: Buffer;
  info: ImageInfo;
}

export const LARGE_ID = "generated-24mp.jpg";
export const LARGE = { width: 6000, height: 4000 } as const;

const FIXTURE_INPUTS: Array<[string, string]> = [
  ["valid/sharp_2569067123_aca715a2ee_o.jpg", "JPEG photo"],
  ["exif/recurser_Portrait_6.jpg", "JPEG, EXIF-rotated"],
  ["valid/sharp_blackbug.png", "PNG with alpha"],
  ["valid/sharp_4.webp", "lossy WebP photo"],
];

export async function loadInputs(limits: RuntimeSettings["input"]): Promise<BenchInput[]> {
  const large = await syntheticPhotoJpeg(LARGE);
  const inputs: Array<[string, string, Buffer]> = [
    [LARGE_ID, "generated photo-like JPEG", large],
    ...FIXTURE_INPUTS.map(([file, label]): [string, string, Buffer] => [file.split("/").pop()!, label, readFileSync(join(FIXTURES, file))]),
  ];
  return Promise.all(inputs.map(async ([id, label, buf]) => ({ id, label, buf, info: await inspectImage(buf, limits) })));
}
