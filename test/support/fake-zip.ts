// A function zip for deploy tests on moto: one tiny handler, deterministic
// bytes (fixed times and level), so its CodeSha256 is stable and a redeploy
// sends no UpdateFunctionCode. Another source makes another zip (a code change).
import { createHash } from "node:crypto";
import { strToU8, zipSync } from "fflate";
import type { FunctionZip } from "../../deploy/function-zip.ts";

export function fakeZip(source = "export const handler = async () => ({ statusCode: 200, body: '' });"): FunctionZip {
  const bytes = zipSync({ "index.mjs": [strToU8(source), { mtime: new Date(1980, 0, 1) }] }, { level: 6 });
  return { bytes, sha256Base64: createHash("sha256").update(bytes).digest("base64"), path: "(memory)", size: bytes.length, architecture: "arm64" };
}
