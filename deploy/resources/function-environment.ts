// What the function's environment carries: the bucket, the runtime settings
// (checked again by the handler at cold start), the URL-signing secret's
// ciphertext, and malloc tuning. Lambda refuses an environment over 4 KB in
// aggregate, measured as the JSON of the variables
// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
// checked here, before any call, with what to shorten.
import { BUCKET_ENV, runtimeSettingsOf, SETTINGS_ENV, settingsToEnv, SIGNING_SECRET_ENV } from "../../config/runtime-env.ts";
import { jwtSettingsToEnv } from "../../function/auth/authorizer-env.ts";
import { cdnSettingsToEnv, type CdnSettings } from "../../function/cdn/cdn-env.ts";
import type { DeployContext } from "../context.ts";
import { DeployError } from "../errors.ts";

export const ENVIRONMENT_LIMIT_BYTES = 4096;

/** cdn: the distribution's settings once it exists (cdn-function-settings.ts), so a redeploy sends the same environment. */
export function functionEnvironment(ctx: DeployContext, signingSecretCiphertext: string, cdn?: CdnSettings): Record<string, string> {
  const variables = {
    [BUCKET_ENV]: ctx.names.imagesBucket,
    [SETTINGS_ENV]: settingsToEnv(runtimeSettingsOf(ctx.config)),
    [SIGNING_SECRET_ENV]: signingSecretCiphertext,
    // glibc: at most 2 malloc arenas. libuv's and libvips' threads otherwise
    // each get one and fragment; npm run bench measured peak RSS -22% over 3
    // requests and -25% over 10, at the same CPU.
    MALLOC_ARENA_MAX: "2",
    // auth "jwt": the authorizer's settings, which the handler reads too (the scopes, and that images have owners).
    ...(ctx.config.auth === "jwt" && ctx.config.jwt !== undefined ? jwtSettingsToEnv(ctx.config.jwt) : {}),
    ...(ctx.config.cdn.enabled && cdn !== undefined ? cdnSettingsToEnv(cdn) : {}),
  };
  const measured = Buffer.byteLength(JSON.stringify(variables));
  if (measured > ENVIRONMENT_LIMIT_BYTES) {
    const settings = Buffer.byteLength(variables[SETTINGS_ENV]);
    throw new DeployError(
      "configuring",
      "Lambda function",
      ctx.names.functionName,
      "EnvironmentTooLarge",
      `The function's environment would be ${measured} bytes; Lambda allows ${ENVIRONMENT_LIMIT_BYTES}. The settings (sizes, cors.origins, limits) take ${settings} of them: use fewer sizes or origins, or drop fields equal to their defaults, then run the same command again.`,
    );
  }
  return variables;
}
