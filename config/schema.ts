// The one schema for config.json. The handler's runtime part (sizes, output,
// input limits, CORS) is a sub-schema so deploy can hand exactly that to the
// Lambda through an environment variable and the handler can check it again at
// cold start with the same rules (config/runtime-check.ts, without zod, held to
// this schema by test/runtime-check.test.ts).
import { z } from "zod";
import { checkRegion } from "./regions.ts";
import { CROP_POSITIONS, INPUT_FORMATS, MAX_UPLOAD_BYTES_CEILING, OUTPUT_FORMATS, SIZES_AT } from "./constants.ts";

export { CROP_POSITIONS, INPUT_FORMATS, MAX_UPLOAD_BYTES_CEILING, OUTPUT_FORMATS, type CropPosition, type InputFormat, type OutputFormat } from "./constants.ts";

// The only values CloudWatch Logs' PutRetentionPolicy accepts.
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const sizeName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "a size name of 1-32 lowercase letters, digits or '-'");

const dimension = z.number().int().min(1).max(10_000);

// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, "an OAuth scope of 1-128 printable characters without spaces, quotes or backslashes");


export const sizeSchema = z
  .strictObject({
    width: dimension,
    height: dimension.optional(),
    fit: z.enum(["cover", "inside"]).optional(),
    position: z.enum(CROP_POSITIONS).optional(),
    format: z.enum(OUTPUT_FORMATS).optional(),
    quality: z.number().int().min(1).max(100).optional(),
    enlarge: z.boolean().default(false),
  })
  .refine((s) => !(s.fit === "cover" && s.height === undefined), {
    message: "fit 'cover' needs a height (a box to fill)",
    path: ["fit"],
  })
  .refine((s) => s.position === undefined || (s.height !== undefined && s.fit !== "inside"), {
    message: "position only with a cover crop (a height, and fit 'cover' or no fit)",
    path: ["position"],
  });

export const runtimeSettingsSchema = z.strictObject({
  sizes: z
    .record(sizeName, sizeSchema)
    .refine((s) => Object.keys(s).length >= 1 && Object.keys(s).length <= 20, "between 1 and 20 sizes"),
  output: z
    .strictObject({
      format: z.enum(OUTPUT_FORMATS).default("webp"),
      quality: z.number().int().min(1).max(100).default(80),
    })
    .prefault({}),
  input: z
    .strictObject({
      formats: z.array(z.enum(INPUT_FORMATS)).min(1).default([...INPUT_FORMATS]),
      maxBytes: z.number().int().min(1).max(MAX_UPLOAD_BYTES_CEILING).default(4_194_304),
      maxPixels: z.number().int().min(1).max(268_402_689).default(40_000_000),
      // A GIF/WebP may declare thousands of tiny frames: the pixel limit cannot see
      // them, so the frame count has its own cap.
      maxFrames: z.number().int().min(1).max(10_000).default(500),
      // Every request's decoding and encoding shares this budget (sharp's timeout,
      // whole seconds). 10 s leaves the 28 s function timeout room for S3 at
      // 1536 MB (0.87 vCPU), where a 40 MP AVIF alone decodes in a few seconds.
      maxDecodeSeconds: z.number().int().min(1).max(25).default(10),
    })
    .prefault({}),
  cors: z
    .strictObject({
      origins: z.array(z.union([z.literal("*"), z.url({ protocol: /^https?$/ })])).min(1).default(["*"]),
    })
    .prefault({}),
  // Uploads too large for a Lambda request (POST /uploads): the client PUTs the
  // bytes straight to S3 through a presigned URL bound to their type and length.
  uploads: z
    .strictObject({
      maxBytes: z.number().int().min(1).max(5_000_000_000).default(50 * 1024 * 1024),
      urlExpiresSeconds: z.number().int().min(60).max(3600).default(300),
    })
    .prefault({}),
  // "upload": POST /images makes and stores every size from the decode that
  // checks the upload; "request": each size is made when first asked for.
  sizesAt: z.enum(SIZES_AT).default("request"),
  // Signed public URLs (GET /public/images/{id}/{size}?expires=&sig=) for <img src>.
  publicUrls: z
    .strictObject({
      enabled: z.boolean().default(true),
      expiresSeconds: z.number().int().min(60).max(604_800).default(86_400),
    })
    .prefault({}),
});

const configFields = z.strictObject({
  stackName: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,22}[a-z0-9]$/, "3-24 lowercase letters, digits or '-', starting with a letter (bucket names add account and region)")
    // S3 reserves these prefixes, and every bucket name starts with the stack name:
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    .refine((name) => !/^(xn--|sthree-|amzn-s3-demo-)/.test(name), "a name not starting with xn--, sthree- or amzn-s3-demo- (S3 reserves those prefixes for bucket names)"),
  // Checked against the AWS SDK's region list (config/regions.ts), so a typo
  // stops here rather than as a DNS error at the first AWS call.
  region: z.string().superRefine((region, ctx) => {
    const check = checkRegion(region);
    if (!check.ok) ctx.addIssue({ code: "custom", message: check.problem, params: { said: "whole" }, input: region });
  }),
  ...runtimeSettingsSchema.shape,
  lambda: z
    .strictObject({
      architecture: z.enum(["arm64", "x86_64"]).default("arm64"),
      memoryMb: z.number().int().min(128).max(10_240).default(1536),
      // API Gateway gives up at 29 s; the function must answer before that.
      timeoutSeconds: z.number().int().min(3).max(28).default(28),
      // A ceiling on concurrent executions: "auto" reserves 10 when the account's
      // quota allows it (see deploy/resources/function-concurrency.ts), false none.
      reservedConcurrency: z.union([z.number().int().min(1).max(1000), z.literal("auto"), z.literal(false)]).default("auto"),
    })
    .prefault({}),
  api: z
    .strictObject({
      throttle: z
        .strictObject({
          rateLimit: z.number().positive().max(10_000).default(20),
          burstLimit: z.number().int().min(1).max(5_000).default(40),
        })
        .prefault({}),
      quota: z
        .strictObject({
          limit: z.number().int().min(1).default(10_000),
          period: z.enum(["DAY", "WEEK", "MONTH"]).default("DAY"),
        })
        .prefault({}),
      // The public (signed-URL) route has no API key, so no usage plan: it gets
      // its own stage throttling instead.
      publicThrottle: z
        .strictObject({
          rateLimit: z.number().positive().max(10_000).default(50),
          burstLimit: z.number().int().min(1).max(5_000).default(100),
        })
        .prefault({}),
      // Requests per IP address in any 5 minutes, enforced by an AWS WAF
      // rate-based rule on the stage (deploy/resources/web-acl.ts); absent = no
      // per-client limit. WAF's bounds for a rate-based rule's limit:
      // https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html
      rateLimitPerIp: z.number().int().min(10).max(2_000_000_000).optional(),
    })
    .prefault({}),
  // "apiKey": API Gateway API keys + usage plan; "iam": SigV4-signed requests
  // (AWS_IAM); "jwt": a bearer token from an OIDC issuer (config jwt), checked
  // by a Lambda authorizer, and every image belongs to the token's subject.
  auth: z.enum(["apiKey", "iam", "jwt"]).default("apiKey"),
  jwt: z
    .strictObject({
      // Its discovery document is <issuer>/.well-known/openid-configuration, and
      // tokens' iss must equal it exactly. Deployed, https only (local mode
      // takes a loopback http issuer through --jwt-issuer).
      issuer: z.url({ protocol: /^https$/, error: "an https URL (the issuer exactly as its tokens' iss claim)" }),
      // The token's aud (an OAuth client id, or an API identifier such as Auth0's).
      audience: z.string().min(1).max(256),
      // Scopes a token must hold: `read` for the GET routes, `write` for those
      // that upload, change or delete (function/routes.ts). Absent: any valid token may do both.
      scopes: z.strictObject({ read: scopeToken, write: scopeToken }).optional(),
    })
    .optional(),
  // CloudFront in front of the signed public URLs (deploy/resources/cdn-*.ts):
  // cache hits never reach API Gateway or the function. Off by default.
  cdn: z
    .strictObject({
      enabled: z.boolean().default(false),
      // A custom domain for the distribution, e.g. images.example.com: an ACM
      // certificate in us-east-1 (the only region CloudFront takes them from)
      // and the distribution's alias.
      // https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html
      domain: z
        .string()
        .max(253)
        .regex(/^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "a lowercase DNS name such as images.example.com (no scheme, no wildcard)")
        .optional(),
      // The Route 53 public hosted zone of cdn.domain: deploy then writes the
      // certificate's validation record and the alias itself; without it, it
      // prints both for you to create.
      hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ").optional(),
      // Requests per IP address in any 5 minutes, by an AWS WAF rate-based rule
      // on the distribution (instead of api.rateLimitPerIp on the stage).
      // https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html
      rateLimitPerIp: z.number().int().min(10).max(2_000_000_000).optional(),
    })
    .prefault({}),
  // Resize every object that arrives under originals/ (by any route) through an
  // S3 event notification scoped to that prefix; the function writes only resized/.
  resizeOnUpload: z.boolean().default(false),
  logs: z
    .strictObject({
      retentionDays: z
        .number()
        .int()
        .refine((d) => LOG_RETENTION_DAYS.includes(d), `one of CloudWatch's retention periods: ${LOG_RETENTION_DAYS.join(", ")}`)
        .default(14),
    })
    .prefault({}),
  trail: z
    .strictObject({
      dataEvents: z.boolean().default(true),
      // "auto": record management events unless another trail of the account
      // already does (a second copy is billed; deploy/resources/trail.ts).
      managementEvents: z.union([z.literal("auto"), z.boolean()]).default("auto"),
      // Days each audit log file can be neither deleted nor overwritten, by
      // anyone without s3:BypassGovernanceRetention (S3 Object Lock, governance mode).
      retentionDays: z.number().int().min(1).max(36_500).default(365),
    })
    .prefault({}),
});

// Refined after the shape: "jwt" needs its issuer, and a jwt block without it would be ignored silently.
export const configSchema = configFields.superRefine((c, ctx) => {
  if (c.auth === "jwt" && c.jwt === undefined) ctx.addIssue({ code: "custom", message: 'a jwt block {"issuer", "audience"} with auth "jwt"', path: ["jwt"], input: c.jwt });
  if (c.auth !== "jwt" && c.jwt !== undefined) ctx.addIssue({ code: "custom", message: 'auth "jwt" with a jwt block (or remove the block)', path: ["auth"], input: c.auth });
  // The CDN's settings mean nothing without it, and it serves the public URLs: they must be on.
  const cdnOnly = ["domain", "hostedZoneId", "rateLimitPerIp"] as const;
  for (const field of cdnOnly) {
    if (!c.cdn.enabled && c.cdn[field] !== undefined) ctx.addIssue({ code: "custom", message: `cdn.enabled true with cdn.${field} (or remove cdn.${field})`, path: ["cdn", "enabled"], input: c.cdn.enabled });
  }
  if (c.cdn.hostedZoneId !== undefined && c.cdn.domain === undefined) ctx.addIssue({ code: "custom", message: "cdn.domain with cdn.hostedZoneId (the zone is the domain's)", path: ["cdn", "domain"], input: c.cdn.domain });
  if (c.cdn.enabled && !c.publicUrls.enabled) ctx.addIssue({ code: "custom", message: "publicUrls.enabled true with cdn.enabled (the CDN serves the signed public URLs)", path: ["publicUrls", "enabled"], input: c.publicUrls.enabled });
});

export type SizeSpec = z.output<typeof sizeSchema>;
export type RuntimeSettings = z.output<typeof runtimeSettingsSchema>;
export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
