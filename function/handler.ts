// The Lambda entry point. Everything here runs once per cold start: settings
// are read from the environment and checked (a bad deploy fails at init, not on
// the first request), libvips loaders are locked down, and one S3 client is made.
import { BUCKET_ENV, settingsFromEnv } from "../config/runtime-env.ts";
import { ConfigError } from "../config/load.ts";
import { createApp } from "./app.ts";
import { configureLibvips } from "./image/libvips.ts";
import { createS3Client } from "./storage/s3-client.ts";
import { ImageStore } from "./storage/image-store.ts";

const settings = settingsFromEnv(process.env);
const bucket = process.env[BUCKET_ENV];
if (bucket === undefined || bucket === "") {
  throw new ConfigError("environment", [`${BUCKET_ENV} is not set: redeploy with deploy/index.ts, which sets it`]);
}
configureLibvips(settings.input.formats);

export const handler = createApp({ store: new ImageStore(createS3Client(), bucket), settings });
