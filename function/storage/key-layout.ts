// Where everything lives in the images bucket, in one place: the function,
// deploy (the role's resources, the S3 trigger's filters, the lifecycle rule)
// and the tests read the prefixes from here.
//   uploads/{id}                   a presigned upload (POST /uploads), not yet checked.
//                                  Checking moves it to originals/{id} or deletes it; a
//                                  lifecycle rule expires whatever is left after a day.
//   originals/{id}                 POST /images's uploads and checked presigned uploads,
//                                  with the checked facts as metadata; objects written here
//                                  directly are unchecked until first checked
//   resized/{id}/{size}.{ext}      each variant, with its settings tag
//   resized/{id}/_original.json    what checking a directly written original found
//   system/cdn-url-signing-key     the CDN URL-signing private key, KMS-encrypted (cdn.enabled only)

export const UPLOADS_PREFIX = "uploads/";
export const ORIGINALS_PREFIX = "originals/";
export const RESIZED_PREFIX = "resized/";
/**
 * Where Lambda writes the records of S3 trigger events that failed every
 * attempt (an on-failure destination): its fixed prefix, then the function's
 * name, the date and a UUID. Never read by the function.
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
 */
export const FAILED_EVENTS_PREFIX = "aws/lambda/async/";

/**
 * The S3 trigger's prefixes (config resizeOnUpload): a new upload is checked
 * and moved; an original written by POST /images or directly is resized. The
 * function's own writes under resized/ never match. Its move of an upload
 * into originals/ does, and that event finds the sizes made and stops.
 */
export const TRIGGER_PREFIXES = [UPLOADS_PREFIX, ORIGINALS_PREFIX] as const;

export const uploadKey = (id: string) => `${UPLOADS_PREFIX}${id}`;
export const originalKey = (id: string) => `${ORIGINALS_PREFIX}${id}`;
export const variantPrefix = (id: string) => `${RESIZED_PREFIX}${id}/`;
export const variantKey = (id: string, size: string, extension: string) => `${variantPrefix(id)}${size}.${extension}`;
// "_" is not allowed in size names, so this never collides with a variant.
export const originalRecordKey = (id: string) => `${variantPrefix(id)}_original.json`;

/** The CDN URL-signing private key, KMS-encrypted (CDN_SIGNING_KEY_CONTEXT); only with cdn.enabled. Not under resized/, so the CDN never serves it. */
export const CDN_SIGNING_KEY_OBJECT = "system/cdn-url-signing-key";
