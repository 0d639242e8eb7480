// The real-world image fixtures in test/fixtures/images (copied, with their
// attribution in SOURCES.md) and their MANIFEST.tsv, parsed into typed rows.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const FIXTURES_DIR = new URL("../fixtures/images/", import.meta.url).pathname;

export type FixtureCategory = "valid" | "exif" | "invalid" | "bomb";

export interface Fixture {
  /** Path relative to test/fixtures/images, e.g. "valid/sharp_320x240.jpg". */
  file: string;
  /** The file name without its folder, e.g. "sharp_320x240.jpg". */
  name: string;
  category: FixtureCategory;
  /** The format the header declares ("jpeg", "heif", "svg", "empty"...), as the manifest spells it. */
  format: string;
  width?: number;
  height?: number;
  expected: "resize" | "reject";
  exifOrientation?: number;
  uprightWidth?: number;
  uprightHeight?: number;
  uprightShape?: "landscape" | "portrait" | "square";
  /** sharp failOn levels the file decodes with; empty when it never does. */
  decodesWithFailOn: string[];
  bytes: number;
  sha256: string;
  notes: string;
}

const COLUMNS = [
  "file",
  "category",
  "format",
  "width",
  "height",
  "expected",
  "exif_orientation",
  "upright_width",
  "upright_height",
  "upright_shape",
  "decodes_with_failOn",
  "bytes",
  "sha256",
  "notes",
] as const;

function optionalNumber(value: string, column: string, file: string): number | undefined {
  if (value === "-" || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`MANIFEST.tsv: expected an integer or "-" for ${column} of ${file} but received "${value}"`);
  return n;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], column: string, file: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`MANIFEST.tsv: expected one of ${allowed.join(", ")} for ${column} of ${file} but received "${value}"`);
  }
  return value as T;
}

export function parseManifest(text: string): Fixture[] {
  const [head, ...lines] = text.split("\n").filter((l) => l.trim() !== "");
  const header = (head ?? "").split("\t");
  if (header.join(",") !== COLUMNS.join(",")) throw new Error(`MANIFEST.tsv: unexpected columns ${header.join(", ")}`);
  return lines.map((line) => {
    const cells = line.split("\t");
    const get = (column: (typeof COLUMNS)[number]) => cells[COLUMNS.indexOf(column)] ?? "";
    const file = get("file");
    const shape = get("upright_shape");
    const failOn = get("decodes_with_failOn");
    const uprightShape = shape === "-" ? undefined : oneOf(shape, ["landscape", "portrait", "square"] as const, "upright_shape", file);
    const row: Fixture = {
      file,
      name: file.split("/").pop()!,
      category: oneOf(get("category"), ["valid", "exif", "invalid", "bomb"] as const, "category", file),
      format: get("format"),
      expected: oneOf(get("expected"), ["resize", "reject"] as const, "expected", file),
      decodesWithFailOn: failOn === "never" ? [] : failOn.split(","),
      bytes: optionalNumber(get("bytes"), "bytes", file) ?? 0,
      sha256: get("sha256"),
      notes: get("notes"),
    };
    const optional = {
      width: optionalNumber(get("width"), "width", file),
      height: optionalNumber(get("height"), "height", file),
      exifOrientation: optionalNumber(get("exif_orientation"), "exif_orientation", file),
      uprightWidth: optionalNumber(get("upright_width"), "upright_width", file),
      uprightHeight: optionalNumber(get("upright_height"), "upright_height", file),
      uprightShape,
    };
    for (const [key, value] of Object.entries(optional)) {
      if (value !== undefined) Object.assign(row, { [key]: value });
    }
    return row;
  });
}

let cached: Fixture[] | undefined;

/** Every row of MANIFEST.tsv. */
export function manifest(): Fixture[] {
  cached ??= parseManifest(readFileSync(join(FIXTURES_DIR, "MANIFEST.tsv"), "utf8"));
  return cached;
}

export function fixturesIn(...categories: FixtureCategory[]): Fixture[] {
  return manifest().filter((f) => categories.includes(f.category));
}

/** One row by its file name ("sharp_320x240.jpg") or path ("valid/sharp_320x240.jpg"). */
export function fixture(nameOrFile: string): Fixture {
  const found = manifest().find((f) => f.file === nameOrFile || f.name === nameOrFile);
  if (found === undefined) throw new Error(`no fixture ${nameOrFile} in MANIFEST.tsv`);
  return found;
}

/** The bytes of a fixture, by row, file name or path. */
export function loadFixture(f: Fixture | string): Buffer {
  const row = typeof f === "string" ? fixture(f) : f;
  return readFileSync(join(FIXTURES_DIR, row.file));
}
