// Variants too large for a Lambda response, with the CDN on: a 302 to the
// distribution's /resized/* behavior (S3 behind Origin Access Control), as a
// CloudFront signed URL with a canned policy that expires with the public URL
// it answers. The private key lives only KMS-encrypted, as the S3 object
// CDN_SIGNING_KEY_OBJECT (its body is the KMS CiphertextBlob); it is decrypted
// once per cold start, and only when the first large variant is served.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-canned-policy.html
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ApiError } from "../errors.ts";
import type { KmsDecrypt } from "../signing-secret.ts";
import { CDN_SIGNING_KEY_OBJECT } from "../storage/key-layout.ts";
import { CDN_SIGNING_KEY_CONTEXT } from "./cdn-env.ts";

/** The URL-signing private key (PKCS#8 PEM). */
export type CdnSigningKey = () => Promise<string>;

/** Reads and decrypts the key on first use; the promise is kept, a failure is not (the next request tries again). */
export function cdnSigningKey(s3: Pick<S3Client, "send">, bucket: string, kms: KmsDecrypt): CdnSigningKey {
  let pending: Promise<string> | undefined;
  async function load(): Promise<string> {
    const { DecryptCommand } = await import("@aws-sdk/client-kms");
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: CDN_SIGNING_KEY_OBJECT }));
      const ciphertext = await object.Body!.transformToByteArray();
      const out = await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { ...CDN_SIGNING_KEY_CONTEXT } }));
      const pem = Buffer.from(out.Plaintext ?? new Uint8Array()).toString("utf8");
      if (!pem.includes("PRIVATE KEY-----")) throw new Error("the decrypted object is not a PEM private key");
      return pem;
    } catch (e) {
      const name = (e as { name?: string }).name ?? "Error";
      throw new ApiError("INTERNAL_ERROR", `loading the CDN URL-signing key (s3://${bucket}/${CDN_SIGNING_KEY_OBJECT}) failed (${name}): redeploy, which writes it; the role needs s3:GetObject on it and kms:Decrypt with its encryption context`, { cause: e });
    }
  }
  return function signingKey() {
    pending ??= load().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}

/** The signed https://<cdn>/<variant key> URL, valid until `expires` (unix seconds). The signer loads with the first one. */
export async function resizedUrl(cdnUrl: string, keyPairId: string, privateKey: string, variantKey: string, expires: number): Promise<string> {
  const { getSignedUrl } = await import("@aws-sdk/cloudfront-signer");
  const path = variantKey.split("/").map(encodeURIComponent).join("/");
  // dateLessThan as a Date: the signer puts its whole seconds in the canned policy's AWS:EpochTime.
  return getSignedUrl({ url: `${cdnUrl}/${path}`, keyPairId, privateKey, dateLessThan: new Date(expires * 1000) });
}
