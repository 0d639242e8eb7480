// The Lambda entry point. Everything here runs once per cold start: settings
// are read from the environment and checked (a bad deploy fails at init, not on
// the first request), libvips loaders are locked down, and one client per
// service is made. The URL-signing secret is decrypted by KMS on first use and
// kept for the life of the container (one Decrypt per cold start). Nothing
// else is loaded here that a request may not need: the KMS client waits for
// the first signed URL, S3's presigner for the first presigned URL, the
// CloudFront client for the first CDN purge, and the settings are checked without zod (npm run bench holds this import to 1.5x
// sharp's own).
import type { Context } from "aws-lambda";
import { ConfigError } from "../config/config-error.ts";
import { BUCKET_ENV, settingsFromEnv, SIGNING_SECRET_CONTEXT, SIGNING_SECRET_ENV } from "../config/runtime-env.ts";
import { BASE_URL_ENV, parseBaseUrl } from "./actions/links.ts";
import { createLambdaHandler } from "./app.ts";
import { accessFromEnv } from "./auth/access.ts";
import { cdnSettingsFromEnv } from "./cdn/cdn-env.ts";
import type { CdnRuntime } from "./cdn/cdn-runtime.ts";
import type { InvalidationRequest } from "./cdn/purge-request.ts";
import { cdnSigningKey } from "./cdn/resized-url.ts";
import { configureLibvips } from "./image/libvips.ts";
import { ciphertextFromEnv, kmsOnFirstUse, kmsSigningSecret } from "./signing-secret.ts";
import { createS3Client } from "./storage/s3-client.ts";
import { ImageStore } from "./storage/image-store.ts";

const settings = settingsFromEnv(process.env);
const bucket = process.env[BUCKET_ENV];
if (bucket === undefined || bucket === "") {
  throw new ConfigError("environment", [`${BUCKET_ENV} is not set: redeploy with deploy/index.ts, which sets it`]);
}
const ciphertext = ciphertextFromEnv(process.env, SIGNING_SECRET_ENV);
let baseUrl: string | undefined;
try {
  baseUrl = process.env[BASE_URL_ENV] ? parseBaseUrl(process.env[BASE_URL_ENV]) : undefined;
} catch (e) {
  throw new ConfigError("environment", [(e as Error).message]);
}
const access = accessFromEnv(process.env);
const cdnSettings = cdnSettingsFromEnv(process.env);
configureLibvips(settings.input.formats);

// Bounded like the S3 client's, so a slow KMS cannot hold a request past 29 s.
const kms = kmsOnFirstUse({ maxAttempts: 3, requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true } });

const s3 = createS3Client();

// cdn.enabled: the CloudFront client is a module of its own in the zip
// (purge.mjs, deploy/function-zip.ts), loaded by the first purge, so image
// requests never parse it. A variable keeps esbuild from bundling it in.
const PURGE_MODULE = "./purge.mjs";
let purgeModule: Promise<{ invalidate: (request: InvalidationRequest) => Promise<string> }> | undefined;
const cdn: CdnRuntime | undefined = cdnSettings && {
  settings: cdnSettings,
  signingKey: cdnSigningKey(s3, bucket, kms),
  async invalidate(request) {
    purgeModule ??= import(PURGE_MODULE).catch((e: unknown) => {
      purgeModule = undefined;
      throw e;
    });
    return (await purgeModule).invalidate(request);
  },
};

const lambdaHandler = createLambdaHandler({
  store: new ImageStore(s3, bucket),
  settings,
  ...(baseUrl === undefined ? {} : { baseUrl }),
  ...(access === undefined ? {} : { access }),
  ...(cdn === undefined ? {} : { cdn }),
  ...(ciphertext === undefined ? {} : { signingSecret: kmsSigningSecret(kms, ciphertext, SIGNING_SECRET_CONTEXT) }),
});

// auth "jwt": API Gateway calls this function as the API's TOKEN authorizer
// too. Its code (jose, the issuer's key set) is a module of its own in the zip,
// loaded on the first such event, so image requests never parse it. A
// variable keeps esbuild from bundling it in (deploy/function-zip.ts).
const AUTHORIZER_MODULE = "./authorizer.mjs";
type TokenEvent = { type: "TOKEN"; authorizationToken?: string; methodArn: string };
const isTokenEvent = (event: unknown): event is TokenEvent => (event as { type?: unknown } | null)?.type === "TOKEN" && typeof (event as { methodArn?: unknown }).methodArn === "string";
let authorizer: Promise<(event: TokenEvent) => Promise<unknown>> | undefined;

export const handler = ((event: unknown, context?: Partial<Context>) => {
  if (!isTokenEvent(event)) return (lambdaHandler as (e: unknown, c?: Partial<Context>) => Promise<unknown>)(event, context);
  authorizer ??= import(AUTHORIZER_MODULE).then((m: { handler: (event: TokenEvent) => Promise<unknown> }) => m.handler);
  return authorizer.then((authorize) => authorize(event));
}) as typeof lambdaHandler;
