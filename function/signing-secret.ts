// The URL-signing secret in Lambda: deploy stores it only encrypted with the
// project's KMS key (base64 CiphertextBlob in the function's environment),
// bound to an encryption context. It is decrypted once per cold start, on
// first use, and kept in memory only; it is never logged. The SDK's KMS
// module is loaded then too: most requests never sign a URL, and loading it at
// cold start cost about a tenth of the bundled handler's import (npm run bench).
import type { DecryptCommand, DecryptCommandOutput, KMSClient, KMSClientConfig } from "@aws-sdk/client-kms";
import { ConfigError } from "../config/config-error.ts";
import { ApiError } from "./errors.ts";
import type { SigningSecret } from "./signed-urls.ts";

/** Shorter keys would make the HMAC guessable; deploy generates 32 random bytes. */
export const MIN_SECRET_BYTES = 16;

export interface KmsDecrypt {
  send(command: DecryptCommand): Promise<Pick<DecryptCommandOutput, "Plaintext">>;
}

/** A KMS client made, with its SDK module, on the first Decrypt; once. */
export function kmsOnFirstUse(config: KMSClientConfig): KmsDecrypt {
  let client: Promise<KMSClient> | undefined;
  return {
    async send(command) {
      client ??= import("@aws-sdk/client-kms").then(({ KMSClient }) => new KMSClient(config));
      return (await client).send(command);
    },
  };
}

/** The ciphertext from the environment, checked at cold start: undefined when unset. */
export function ciphertextFromEnv(env: NodeJS.ProcessEnv, name: string): Buffer | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new ConfigError("environment", [`${name} is not base64 (a KMS CiphertextBlob): redeploy, or run deploy with --rotate-signing-secret`]);
  }
  return Buffer.from(text, "base64");
}

/**
 * One KMS Decrypt per cold start, shared by every request: the promise is
 * kept. A failed Decrypt is not kept, so the next request tries again.
 */
export function kmsSigningSecret(kms: Pick<KMSClient, "send"> | KmsDecrypt, ciphertext: Buffer, context: Record<string, string>): SigningSecret {
  let pending: Promise<Buffer> | undefined;

  async function decrypt(): Promise<Buffer> {
    const { DecryptCommand } = await import("@aws-sdk/client-kms");
    let out: Pick<DecryptCommandOutput, "Plaintext">;
    try {
      out = await (kms as KmsDecrypt).send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: context }));
    } catch (e) {
      const name = (e as { name?: string }).name ?? "Error";
      throw new ApiError("INTERNAL_ERROR", `decrypting the URL-signing secret with KMS failed (${name}): the role needs kms:Decrypt on the project key with this encryption context`, { cause: e });
    }
    const secret = out.Plaintext === undefined ? undefined : Buffer.from(out.Plaintext);
    if (secret === undefined || secret.length < MIN_SECRET_BYTES) {
      throw new ApiError("INTERNAL_ERROR", `the URL-signing secret is ${secret?.length ?? 0} bytes, fewer than ${MIN_SECRET_BYTES}: run deploy with --rotate-signing-secret`);
    }
    return secret;
  }

  return function signingSecret(): Promise<Buffer> {
    pending ??= decrypt().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}
