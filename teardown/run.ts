// Teardown: every ensure's remove, in reverse dependency order. Users' images
// and audit logs are never deleted without deleteData: a bucket holding
// objects is kept, and then so is the KMS key that can still decrypt them.
import type { AwsClients } from "../deploy/aws-clients.ts";
import type { Config } from "../config/schema.ts";
import { contextFor, type StepReport } from "../deploy/context.ts";
import type { Clock } from "../deploy/toolkit/propagation.ts";
import { removeApiGatewayAccount } from "../deploy/resources/api-gateway-account.ts";
import { removeBucketNotification } from "../deploy/resources/bucket-notification.ts";
import { removeImagesBucket } from "../deploy/resources/images-bucket.ts";
import { removeKmsKey } from "../deploy/resources/kms-key.ts";
import { removeLambdaFunction } from "../deploy/resources/lambda-function.ts";
import { removeLambdaRole } from "../deploy/resources/lambda-role.ts";
import { removeLogGroups } from "../deploy/resources/log-groups.ts";
import { removeRestApi } from "../deploy/resources/rest-api.ts";
import { removeTrail } from "../deploy/resources/trail.ts";
import { removeTrailBucket } from "../deploy/resources/trail-bucket.ts";
import { removeUsagePlan } from "../deploy/resources/usage-plan.ts";

export interface TeardownOptions {
  config: Config;
  clients: AwsClients;
  deleteData?: boolean;
  dryRun?: boolean;
  progress?: (message: string) => void;
  onStep?: (report: StepReport) => void;
  clock?: Clock;
}

export async function teardown(options: TeardownOptions): Promise<{ resources: StepReport[] }> {
  const ctx = await contextFor(options);
  const deleteData = options.deleteData ?? false;
  const resources: StepReport[] = [];
  const done = (r: StepReport) => {
    const plain: StepReport = { resource: r.resource, name: r.name, action: r.action, ...(r.detail ? { detail: r.detail } : {}) };
    resources.push(plain);
    options.onStep?.(plain);
    return plain;
  };

  done(await removeTrail(ctx));
  done(await removeUsagePlan(ctx));
  // Deleting the API removes its methods and stage; the function's invoke
  // permission goes with the function.
  done(await removeRestApi(ctx));
  done(await removeApiGatewayAccount(ctx));
  // The S3 trigger (resizeOnUpload) is removed from the bucket explicitly: a
  // kept bucket must not go on naming a deleted function. Listed only when
  // there was one, as most stacks never turn it on. The URL-signing secret
  // needs no step: its ciphertext lives only in the function's configuration.
  const trigger = await removeBucketNotification(ctx);
  if (trigger.action !== "absent") done(trigger);
  done(await removeLambdaFunction(ctx));
  done(await removeLogGroups(ctx, { deleteData }));
  done(await removeLambdaRole(ctx));
  const images = done(await removeImagesBucket(ctx, { deleteData }));
  const trail = done(await removeTrailBucket(ctx, { deleteData }));
  const dataRemains = images.action === "kept" || trail.action === "kept";
  done(await removeKmsKey(ctx, { dataRemains }));
  return { resources };
}
