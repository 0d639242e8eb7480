// Small AWS fixtures for the rule tests: a function zip, trust and key
// policies, a role, a function, and the assertion that a call was refused
// with exactly an AWS code and message.
import assert from "node:assert/strict";
import { CreateRoleCommand } from "@aws-sdk/client-iam";
import { CreateFunctionCommand } from "@aws-sdk/client-lambda";
import { strToU8, zipSync } from "fflate";
import type { AwsClients } from "../../deploy/aws-clients.ts";

export const ACCOUNT = "123456789012"; // moto's
export const ZIP = zipSync({ "index.mjs": strToU8("export const handler = async () => 1;") });

export const trust = (service: string) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }] });

/** The account administers the key; each role may encrypt and decrypt (two statements naming it, as deploy's policy does). */
export const keyPolicy = (...roles: string[]) =>
  JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" },
      ...roles.flatMap((r) => ["kms:Encrypt", "kms:Decrypt"].map((Action) => ({ Effect: "Allow", Principal: { AWS: r }, Action, Resource: "*" }))),
    ],
  });

export async function role(clients: AwsClients, name: string, service = "lambda.amazonaws.com"): Promise<string> {
  return (await clients.iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust(service) }))).Role!.Arn!;
}

export const fn = (name: string, Role: string, extra: Record<string, unknown> = {}) =>
  new CreateFunctionCommand({ FunctionName: name, Runtime: "nodejs22.x", Handler: "index.handler", Role, Code: { ZipFile: ZIP }, ...extra });

/** The call fails with exactly this AWS error code and message. */
export async function refused(call: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  await assert.rejects(call, (e: Error) => {
    assert.equal(e.name, code);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}
