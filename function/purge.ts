// The CDN purge's entry (bundled on its own as purge.mjs): the CloudFront
// client and its protocol code load only when an image is deleted or its
// variants are remade, never for the image requests that make up most
// invocations. The client is made once per container.
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { createInvalidator } from "./cdn/invalidate.ts";

// Bounded like the S3 and KMS clients, so a slow CloudFront API cannot hold a
// DELETE near API Gateway's 29 s; a failure is answered as X-Imgapi-Purge: failed.
const client = new CloudFrontClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true } });

export const invalidate = createInvalidator(client);
