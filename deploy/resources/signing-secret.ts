// The secret the handler signs public URLs with (HMAC-SHA256). It exists only
// encrypted: 32 random bytes, encrypted here with the project's KMS key under
// the encryption context SIGNING_SECRET_CONTEXT, and the base64 ciphertext
// stored in the function's environment (IMGAPI_SIGNING_SECRET_CIPHERTEXT). The
// handler decrypts it once per cold start; the key policy lets the function's
// role decrypt with that context only, and the deploying identity encrypt with
// it only. The plaintext never leaves this module's memory: it is not returned,
// logged or written, and the buffer is zeroed once encrypted.
//
// A module of its own, not part of lambda-function.ts: the secret has its own
// life (made once, kept by every redeploy, replaced only on
// --rotate-signing-secret) and its own KMS call, while the function module
// only compares and writes configuration. The function's environment is the
// one place the ciphertext lives, so it is read back from there (GetFunction):
// no state file, and a redeploy sends nothing for it.
import { EncryptCommand } from "@aws-sdk/client-kms";
import { randomBytes } from "node:crypto";
import { SIGNING_SECRET_CONTEXT, SIGNING_SECRET_ENV } from "../../config/runtime-env.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, step } from "../errors.ts";
import { findFunction } from "./lambda-function.ts";

const RESOURCE = "URL-signing secret";
/** HMAC-SHA256 keys gain nothing beyond the hash's block size; 32 bytes is the hash's own strength. */
export const SIGNING_SECRET_BYTES = 32;
/** Stands in for the ciphertext a dry run would make (nothing is encrypted in a dry run). */
export const PLANNED_CIPHERTEXT = "(new ciphertext)";
const CONTEXT_TEXT = Object.entries(SIGNING_SECRET_CONTEXT).map(([k, v]) => `${k}=${v}`).join(", ");

export interface SigningSecretDeps {
  keyArn: string;
  /** Replace the secret: every URL signed with the old one stops working. */
  rotate?: boolean;
}

export type SigningSecretReport = StepReport & { outputs: { ciphertext: string } };

/** The ciphertext in the function's environment, if the function exists and has one. */
export async function currentCiphertext(ctx: DeployContext): Promise<string | undefined> {
  const found = await findFunction(ctx);
  const error = found?.Configuration?.Environment?.Error;
  if (error) {
    // An environment Lambda cannot show is not an environment without a
    // secret: making a new one here would rotate it by accident.
    throw new DeployError(
      "reading",
      RESOURCE,
      `${ctx.names.functionName}/${SIGNING_SECRET_ENV}`,
      error.ErrorCode ?? "EnvironmentError",
      `${error.Message ?? ""} Lambda could not decrypt the function's environment for your deploy identity: grant it kms:Decrypt on the project key (through Lambda), then run the same command again.`.trim(),
    );
  }
  const value = found?.Configuration?.Environment?.Variables?.[SIGNING_SECRET_ENV];
  return value === undefined || value === "" ? undefined : value;
}

async function encryptNewSecret(ctx: DeployContext, keyArn: string): Promise<string | undefined> {
  const name = `${ctx.names.functionName}/${SIGNING_SECRET_ENV}`;
  if (ctx.dryRun) return undefined;
  return step("encrypting", RESOURCE, name, `kms:Encrypt (with the encryption context ${CONTEXT_TEXT})`, async () => {
    const secret = randomBytes(SIGNING_SECRET_BYTES);
    try {
      const out = await ctx.clients.kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: secret, EncryptionContext: { ...SIGNING_SECRET_CONTEXT } }));
      if (!out.CiphertextBlob?.length) throw new DeployError("encrypting", RESOURCE, name, "EmptyCiphertext", "KMS returned no ciphertext. Run the same command again.");
      return Buffer.from(out.CiphertextBlob).toString("base64");
    } finally {
      secret.fill(0);
    }
  });
}

/**
 * The ciphertext the function's environment should carry: the one it has, or
 * a new one on the first deploy (or a function that lost it) and on rotation.
 * Writing it is the function module's job (CreateFunction, or
 * UpdateFunctionConfiguration when it changed).
 */
export async function ensureSigningSecret(ctx: DeployContext, deps: SigningSecretDeps): Promise<SigningSecretReport> {
  const name = `${ctx.names.functionName}/${SIGNING_SECRET_ENV}`;
  const existing = await currentCiphertext(ctx);
  if (existing !== undefined && !deps.rotate) return { resource: RESOURCE, name, action: "unchanged", outputs: { ciphertext: existing } };
  const ciphertext = (await encryptNewSecret(ctx, deps.keyArn)) ?? PLANNED_CIPHERTEXT;
  const detail =
    existing === undefined
      ? `${SIGNING_SECRET_BYTES} random bytes, encrypted with the project key`
      : "rotated: URLs signed with the previous secret stop working once the function is updated";
  return { resource: RESOURCE, name, action: existing === undefined ? "created" : "updated", detail, outputs: { ciphertext } };
}
