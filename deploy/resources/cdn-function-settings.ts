// What the function is told about its CDN (function/cdn/cdn-env.ts): the
// CDN's URL, the distribution to purge, the origin secret's SHA-256 and the
// URL-signing key pair id. Written once the distribution exists, and only
// when they differ; the function step computes them from an existing
// distribution as well, so a redeploy sends nothing.
import { createHash } from "node:crypto";
import { UpdateFunctionConfigurationCommand } from "@aws-sdk/client-lambda";
import type { DistributionConfig } from "@aws-sdk/client-cloudfront";
import type { CdnSettings } from "../../function/cdn/cdn-env.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { Changes, PROPAGATION, retryWhilePropagating } from "../toolkit/index.ts";
import { originSecretOf } from "./cdn-distribution-config.ts";
import { findDistribution, readDistributionConfig } from "./cdn-distribution.ts";
import { findKeyGroup } from "./cdn-signing-key.ts";
import { functionEnvironment } from "./function-environment.ts";
import { findFunction } from "./lambda-function.ts";
import { waitForFunction } from "./function-state.ts";

const RESOURCE = "CDN settings of the function";

/** The viewers' base URL: the custom domain once the distribution serves it (alias with a certificate), else CloudFront's. */
export function cdnSettingsOf(d: { id: string; domain: string; originSecret: string; keyPairId: string; config?: DistributionConfig }): CdnSettings {
  const alias = d.config?.ViewerCertificate?.ACMCertificateArn ? d.config.Aliases?.Items?.[0] : undefined;
  return {
    url: `https://${alias ?? d.domain}`,
    distributionId: d.id,
    originSha256: createHash("sha256").update(d.originSecret, "utf8").digest("hex"),
    keyPairId: d.keyPairId,
  };
}

/** From what exists: undefined without cdn.enabled, a distribution, its secret or a key pair. */
export async function currentCdnSettings(ctx: DeployContext): Promise<CdnSettings | undefined> {
  if (!ctx.config.cdn.enabled) return undefined;
  const found = await findDistribution(ctx);
  if (found === undefined) return undefined;
  const config = (await readDistributionConfig(ctx, found.id))?.DistributionConfig;
  const originSecret = originSecretOf(config);
  const keyPairId = (await findKeyGroup(ctx))?.config.Items?.[0];
  if (originSecret === undefined || keyPairId === undefined) return undefined;
  return cdnSettingsOf({ ...found, originSecret, keyPairId, config });
}

export async function ensureCdnFunctionSettings(ctx: DeployContext, deps: { settings: CdnSettings | undefined; signingSecretCiphertext: string; keyArn: string }): Promise<StepReport> {
  const name = ctx.names.functionName;
  const changes = new Changes(ctx, RESOURCE, name);
  if (deps.settings === undefined) {
    changes.note("IMGAPI_CDN_* (once the distribution exists)");
    return changes.report(false);
  }
  const desired = functionEnvironment(ctx, deps.signingSecretCiphertext, deps.settings);
  const actual = (await findFunction(ctx))?.Configuration?.Environment?.Variables ?? {};
  const same = Object.keys(desired).length === Object.keys(actual).length && Object.entries(desired).every(([k, v]) => actual[k] === v);
  if (!same) {
    await changes.apply("IMGAPI_CDN_*", "lambda:UpdateFunctionConfiguration", () =>
      retryWhilePropagating(ctx, PROPAGATION.functionUpdate, () =>
        ctx.clients.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: desired }, KMSKeyArn: deps.keyArn }))), "updating configuration of");
    await waitForFunction(ctx, "updated");
  }
  return changes.report(false, same ? undefined : `CDN ${deps.settings.url}, distribution ${deps.settings.distributionId}`);
}
