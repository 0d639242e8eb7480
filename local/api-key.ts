// The local server's API key: $API_KEY when set, else a fresh random one per
// start. Checked like API Gateway checks a usage plan's key: only the x-api-key
// header counts.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const API_KEY_ENV = "API_KEY";

/** 40 URL-safe characters, the length of the keys API Gateway generates. */
export function generateApiKey(): string {
  return randomBytes(30).toString("base64url");
}

export function apiKeyFrom(env: NodeJS.ProcessEnv): string {
  const key = env[API_KEY_ENV];
  return key === undefined || key === "" ? generateApiKey() : key;
}

/**
 * Constant-time comparison. Both sides are hashed first so the comparison
 * neither fails fast on a length difference nor leaks the key's length.
 */
export function apiKeyMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(expected), digest(given));
}
