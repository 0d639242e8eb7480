// What deploy tells the function about its CDN, through the environment: the
// one contract between deploy/resources/cdn-*.ts (which writes it once the
// distribution exists) and the handler (which reads it at cold start). All
// absent: no CDN (local mode, or cdn.enabled false), and the public URLs are
// the API's own.
import { ConfigError } from "../../config/config-error.ts";

/** https://<distribution domain> or https://<cdn.domain>: the base of the public URLs the listing hands out. */
export const CDN_URL_ENV = "IMGAPI_CDN_URL";
/** The distribution to invalidate an image's paths in (purge). */
export const CDN_DISTRIBUTION_ID_ENV = "IMGAPI_CDN_DISTRIBUTION_ID";
/** SHA-256 (hex) of the origin secret CloudFront sends in CDN_ORIGIN_HEADER: the public route refuses requests without it. */
export const CDN_ORIGIN_SHA256_ENV = "IMGAPI_CDN_ORIGIN_SHA256";
/** The CloudFront public key id that signs /resized/* URLs (variants too large for a Lambda response). */
export const CDN_KEY_PAIR_ID_ENV = "IMGAPI_CDN_KEY_PAIR_ID";

/** The header CloudFront adds on its way to the API origin (a custom origin header), lowercase as the handler reads headers. */
export const CDN_ORIGIN_HEADER = "x-imgapi-origin-verify";
/** The KMS encryption context the CDN URL-signing private key is bound to. */
export const CDN_SIGNING_KEY_CONTEXT = { "imgapi:purpose": "cdn-url-signing" } as const;

export interface CdnSettings {
  url: string;
  distributionId: string;
  originSha256: string;
  keyPairId: string;
}

const CHECKS: Record<keyof CdnSettings, [string, RegExp, string]> = {
  url: [CDN_URL_ENV, /^https:\/\/[a-z0-9.-]+[a-z0-9]$/, "https://<domain> without a path"],
  distributionId: [CDN_DISTRIBUTION_ID_ENV, /^[A-Z0-9]{8,20}$/, "a CloudFront distribution id"],
  originSha256: [CDN_ORIGIN_SHA256_ENV, /^[0-9a-f]{64}$/, "64 hex digits"],
  keyPairId: [CDN_KEY_PAIR_ID_ENV, /^[A-Z0-9]{8,32}$/, "a CloudFront public key id"],
};

export function cdnSettingsToEnv(settings: CdnSettings): Record<string, string> {
  return Object.fromEntries((Object.keys(CHECKS) as (keyof CdnSettings)[]).map((field) => [CHECKS[field][0], settings[field]]));
}

/** The CDN settings, or undefined when none is set; all four or none, each checked, else a ConfigError naming what to do. */
export function cdnSettingsFromEnv(env: NodeJS.ProcessEnv): CdnSettings | undefined {
  const fields = Object.keys(CHECKS) as (keyof CdnSettings)[];
  const present = fields.filter((f) => (env[CHECKS[f][0]] ?? "") !== "");
  if (present.length === 0) return undefined;
  const problems = fields.flatMap((f) => {
    const [name, pattern, expected] = CHECKS[f];
    const value = env[name] ?? "";
    return pattern.test(value) ? [] : [`Expected ${expected} for ${name} but received ${value === "" ? "nothing" : JSON.stringify(value.slice(0, 80))}`];
  });
  if (problems.length > 0) throw new ConfigError("environment", [...problems, "redeploy with deploy/index.ts, which writes the CDN settings"]);
  return Object.fromEntries(fields.map((f) => [f, env[CHECKS[f][0]]!])) as unknown as CdnSettings;
}
