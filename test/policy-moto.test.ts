// The policies a real deploy leaves in moto (a stand-in function zip, as
// deploy-faults.test.ts), read back and evaluated by the policy engine in the
// documented scenarios; and every AWS call two deploys and a teardown
// --delete-data make, with the context each carries, evaluated against
// deploy/deployer-policy*.json as the deploying identity's only policies.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { DeleteBucketPolicyCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { parseConfig } from "../config/load.ts";
import { createClients, destroyClients } from "../deploy/aws-clients.ts";
import { deploy } from "../deploy/run.ts";
import { teardown } from "../teardown/run.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";
import { authorizations, type Call } from "./support/policy-calls.ts";
import { evaluate } from "./support/policy-eval.ts";
import { readBack, recordingClients } from "./support/policy-moto.ts";
import { failures } from "./support/policy-run.ts";
import { virtualClock } from "./support/clock.ts";
import { fakeZip } from "./support/fake-zip.ts";

const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8"));


let moto: Moto;
before(async () => {
  moto = await startMoto();
});
after(async () => {
  await moto?.stop();
});

const restApiIdOf = (endpointUrl: string) => new URL(endpointUrl).hostname.split(".")[0]!;

describe("the deployed stack's policies (moto)", () => {
  test("read back after a deploy, they answer every documented scenario as the documents do", async () => {
    await moto.reset();
    const config = parseConfig({ ...example, stackName: "imgapi-readback", resizeOnUpload: true });
    const clients = createClients({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    try {
      const { outputs } = await deploy({ config, clients, zip: fakeZip(), clock: virtualClock() });
      const { policies, missing } = await readBack(clients, config.stackName, restApiIdOf(outputs.endpointUrl));
      // Both at once, so one run shows every gap.
      assert.deepEqual({ missing, failures: missing.length ? [] : await failures(policies) }, { missing: [], failures: [] });
    } finally {
      destroyClients(clients);
    }
  });

  const variants: Array<[string, Record<string, unknown>]> = [
    ["auth apiKey", { auth: "apiKey" }],
    ["auth iam, resizeOnUpload", { auth: "iam", resizeOnUpload: true }],
    // The authorizer, its invoke permission and the methods that name it.
    ["auth jwt", { auth: "jwt", jwt: { issuer: "https://issuer.example.com/", audience: "imgapi", scopes: { read: "images:read", write: "images:write" } } }],
  ];
  for (const [label, patch] of variants) {
    test(`${label}: every call of deploy, deploy again and teardown --delete-data is allowed by the deployer policy`, async () => {
      await moto.reset();
      const config = parseConfig({ ...example, ...patch });
      const calls: Call[] = [];
      const clients = recordingClients(moto, calls);
      const plain = createClients({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
      const refused: string[] = [];
      try {
        await deploy({ config, clients, zip: fakeZip(), clock: virtualClock() });
        const { outputs } = await deploy({ config, clients, zip: fakeZip(), clock: virtualClock() });
        const { policies, inventory } = await readBack(plain, config.stackName, restApiIdOf(outputs.endpointUrl));
        // An image for teardown --delete-data to delete. moto applies the TLS-only Deny
        // without its condition (it would refuse every object call over its plain HTTP),
        // so the policy, evaluated above, is lifted for the rest of the run.
        await plain.s3.send(new DeleteBucketPolicyCommand({ Bucket: policies.ctx.names.imagesBucket }));
        await plain.s3.send(new PutObjectCommand({ Bucket: policies.ctx.names.imagesBucket, Key: "originals/0b6f5c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f", Body: "image bytes" }));
        await teardown({ config, clients, deleteData: true });
        const actions = new Set<string>();
        for (const call of calls) {
          const needed = authorizations(call, policies, inventory);
          if (typeof needed === "string") {
            refused.push(needed);
            continue;
          }
          for (const a of needed) {
            actions.add(a.action);
            const got = await evaluate({ principal: `arn:aws:iam::${policies.ctx.account}:user/deployer`, action: a.action, resource: a.resource, resourceAccount: policies.ctx.account, context: a.context, identityPolicies: policies.docs.deployer, resourcePolicy: a.policy, pathAuthorized: a.pathAuthorized ?? false });
            if (got !== "Allow") refused.push(`${a.action} on ${a.resource} (${call.service} ${call.command}): ${got}, context ${JSON.stringify(a.context)}`);
          }
        }
        console.log(`policy-moto: ${label}: 2 deploys + teardown --delete-data made ${calls.length} AWS calls needing ${actions.size} distinct IAM actions; ${refused.length} refused`);
      } finally {
        destroyClients(clients);
        destroyClients(plain);
      }
      assert.deepEqual([...new Set(refused)], []);
    });
  }
});
