// How deploy hands the handler its settings: one JSON environment variable,
// checked again at cold start with the same rules as config.json, by
// runtime-check.ts rather than the zod schema, which would double the bundle.
import { ConfigError } from "./config-error.ts";
import { checkRuntimeSettings } from "./runtime-check.ts";
import type { Config, RuntimeSettings } from "./schema.ts";

export const SETTINGS_ENV = "IMGAPI_SETTINGS";
export const BUCKET_ENV = "IMGAPI_BUCKET";
/** The URL-signing secret, encrypted with the project's KMS key (base64 ciphertext); never plaintext. */
export const SIGNING_SECRET_ENV = "IMGAPI_SIGNING_SECRET_CIPHERTEXT";
/** The KMS encryption context the signing secret is bound to (Decrypt must present it). */
export const SIGNING_SECRET_CONTEXT = { purpose: "imgapi-url-signing" } as const;

export function runtimeSettingsOf(config: Config | RuntimeSettings): RuntimeSettings {
  const { sizes, output, input, cors, uploads, publicUrls, sizesAt } = config;
  return { sizes, output, input, cors, uploads, publicUrls, sizesAt };
}

export function settingsToEnv(settings: RuntimeSettings): string {
  return JSON.stringify(settings);
}

export function settingsFromEnv(env: NodeJS.ProcessEnv): RuntimeSettings {
  const raw = env[SETTINGS_ENV];
  if (raw === undefined || raw === "") {
    return checkRuntimeSettings({ sizes: DEFAULT_SIZES }, `environment (${SETTINGS_ENV} unset, defaults)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (e) {
    throw new ConfigError(SETTINGS_ENV, [`not valid JSON: ${(e as Error).message}: redeploy with deploy/index.ts, which writes it`]);
  }
  return checkRuntimeSettings(data, SETTINGS_ENV);
}

/** The sizes used when nothing is configured (local mode, tests). */
export const DEFAULT_SIZES = {
  thumbnail: { width: 150, height: 150, fit: "cover" },
  medium: { width: 800 },
  large: { width: 1600 },
} as const;
