// The deployment package run as Lambda runs it, for both architectures: the
// zip from buildFunctionZip unpacked as /var/task would be, Node.js 22 for the
// zip's CPU (arm64 under qemu-user on an x64 machine), a runtime stand-in that
// loads deploy's handler string the way the Lambda Node.js runtime does, and
// API Gateway events served against moto's S3. The stack runs in auth "jwt"
// mode, so the same function also answers API Gateway's TOKEN authorizer
// events from its authorizer.mjs, against an https issuer on loopback. The
// init time of each is reported, not judged: under emulation it says little
// about Lambda's.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyResult } from "aws-lambda";
import { unzipSync } from "fflate";
import sharp from "sharp";
import { loadConfig } from "../config/load.ts";
import { BUCKET_ENV, runtimeSettingsOf, SETTINGS_ENV, settingsToEnv, SIGNING_SECRET_ENV } from "../config/runtime-env.ts";
import { buildFunctionZip, type FunctionZip } from "../deploy/function-zip.ts";
import { resourceNames } from "../deploy/names.ts";
import { HANDLER } from "../deploy/resources/lambda-function.ts";
import { jwtSettingsToEnv } from "../function/auth/authorizer-env.ts";
import type { AuthorizerResult } from "../function/auth/token-policy.ts";
import { ROUTES } from "../function/routes.ts";
import { S3_ENDPOINT_ENV } from "../function/storage/s3-client.ts";
import { startHttpsIssuer, type HttpsIssuer } from "./support/https-issuer.ts";
import { responseBytes, responseJson, sizeEvent, uploadEvent } from "./support/events.ts";
import { fixture, loadFixture } from "./support/fixtures.ts";
import { lambdaEnvironment } from "./support/lambda-env.ts";
import { MissingPrerequisite, nodeFor, type Architecture, type NodeCommand } from "./support/lambda-node.ts";
import { startLambda } from "./support/lambda-runtime-api.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";
import { inCi } from "./support/ci.ts";
import { NODE22_VERSION } from "./support/node22.ts";

const EXAMPLE_CONFIG = new URL("../config.example.json", import.meta.url).pathname;
const ACCOUNT = "123456789012";
const FIXTURE = fixture("sharp_320x240.jpg");
const CPU = { arm64: "arm64", x86_64: "x64" } as const;

let moto: Moto;
let s3: S3Client;
let issuer: HttpsIssuer;
const zips = new Map<Architecture, FunctionZip>();
const temps: string[] = [];

// Both zips are built while moto starts, and before any function runs: zipping
// holds this process's event loop, which serves the Runtime API and would
// stretch the init time measured.
before(async () => {
  const builds = (["arm64", "x86_64"] as const).map(async (architecture) => zips.set(architecture, await buildFunctionZip({ architecture })));
  issuer = await startHttpsIssuer("imgapi-zip-run");
  const [started, ...built] = await Promise.allSettled([startMoto(), ...builds]);
  if (started.status === "fulfilled") {
    moto = started.value;
    s3 = new S3Client(s3ClientConfig(moto));
  }
  for (const outcome of [started, ...built]) if (outcome.status === "rejected") throw outcome.reason;
});

after(async () => {
  s3?.destroy();
  await moto?.stop();
  await issuer?.close();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** The zip's entries written out as Lambda lays them out in /var/task (dlopen needs no execute bit). */
function unpack(bytes: Uint8Array): string {
  const taskRoot = mkdtempSync(join(tmpdir(), "imgapi-task-"));
  temps.push(taskRoot);
  for (const [name, data] of Object.entries(unzipSync(bytes))) {
    mkdirSync(dirname(join(taskRoot, name)), { recursive: true });
    writeFileSync(join(taskRoot, name), data);
  }
  return taskRoot;
}

/** Node 22 for the architecture, or (outside CI) undefined after skipping with the reason. */
async function nodeOrSkip(t: TestContext, architecture: Architecture): Promise<NodeCommand | undefined> {
  try {
    return await nodeFor(architecture);
  } catch (e) {
    if (!(e instanceof MissingPrerequisite) || inCi) throw e;
    t.skip(e.message);
    return undefined;
  }
}

async function objectKeys(bucket: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

for (const architecture of ["arm64", "x86_64"] as const) {
  test(`the ${architecture} zip, run by Node.js ${NODE22_VERSION} for ${architecture} as Lambda runs it, serves an upload and a resize`, async (t) => {
    const node = await nodeOrSkip(t, architecture);
    if (node === undefined) return;
    // The configuration a user starts from, with this test's stack name.
    const config = loadConfig(EXAMPLE_CONFIG, { stackName: `zip-run-${CPU[architecture]}`, region: MOTO_REGION });
    const names = resourceNames(config.stackName, ACCOUNT, config.region);
    await s3.send(new CreateBucketCommand({ Bucket: names.imagesBucket }));
    const taskRoot = unpack(zips.get(architecture)!.bytes);
    const nodeBinary = node.args.at(-1) ?? node.command;

    const lambda = await startLambda({
      node,
      taskRoot,
      handler: HANDLER,
      env: {
        ...lambdaEnvironment({ functionName: names.functionName, region: config.region, memoryMb: config.lambda.memoryMb, nodeBinary, taskRoot, credentials: { ...MOTO_CREDENTIALS, sessionToken: "testing" } }),
        // What deploy sets (deploy/resources/lambda-function.ts), and moto for S3.
        [BUCKET_ENV]: names.imagesBucket,
        [SETTINGS_ENV]: settingsToEnv(runtimeSettingsOf(config)),
        // Checked at cold start, decrypted only for public URLs, which these requests do not make.
        [SIGNING_SECRET_ENV]: randomBytes(184).toString("base64"),
        MALLOC_ARENA_MAX: "2",
        [S3_ENDPOINT_ENV]: moto.endpoint,
        // auth "jwt": the authorizer's settings (deploy/resources/function-environment.ts), and trust in the issuer's test certificate.
        ...jwtSettingsToEnv({ issuer: issuer.issuer, audience: issuer.audience, scopes: { read: "images:read", write: "images:write" } }),
        NODE_EXTRA_CA_CERTS: issuer.caFile,
      },
      functionArn: `arn:aws:lambda:${config.region}:${ACCOUNT}:function:${names.functionName}`,
      timeoutSeconds: config.lambda.timeoutSeconds,
    });
    t.after(() => lambda.stop());
    const timed = async (event: unknown) => {
      const started = performance.now();
      const result = (await lambda.invoke(event).catch((e: Error) => assert.fail(`${e.message}\n${lambda.output()}`))) as APIGatewayProxyResult;
      return { result, ms: performance.now() - started };
    };

    // The authorizer's answer, as API Gateway passes it on to the image requests.
    const caller = { principalId: "zip-user", sub: "zip-user", scope: "images:read images:write" };
    const authorized = <E extends { requestContext: { authorizer: unknown } }>(event: E): E => ({ ...event, requestContext: { ...event.requestContext, authorizer: caller } });
    const upload = await timed(authorized(uploadEvent(loadFixture(FIXTURE), { contentType: "image/jpeg" })));
    assert.equal(upload.result.statusCode, 201, `${upload.result.body}\n${lambda.output()}`);
    const { id, original } = responseJson<{ id: string; original: { width: number; height: number; format: string } }>(upload.result);
    const resize = await timed(authorized(sizeEvent(id, "thumbnail")));
    t.diagnostic(`${architecture} (${node.how}): init ${lambda.initMs.toFixed(0)} ms, upload ${upload.ms.toFixed(0)} ms, thumbnail ${resize.ms.toFixed(0)} ms; ${lambda.userAgent}`);

    assert.match(lambda.userAgent, new RegExp(`^aws-lambda-nodejs/v${NODE22_VERSION.replaceAll(".", "\\.")} \\(linux; ${CPU[architecture]}\\)$`), "the function ran on another Node or CPU");
    assert.deepEqual([original.format, original.width, original.height], ["jpeg", FIXTURE.width, FIXTURE.height]);
    assert.equal(resize.result.statusCode, 200, resize.result.body);
    assert.equal(resize.result.headers?.["Content-Type"], "image/webp");
    const thumbnail = await sharp(responseBytes(resize.result)).metadata();
    assert.deepEqual([thumbnail.format, thumbnail.width, thumbnail.height], ["webp", 150, 150]);
    assert.deepEqual(await objectKeys(names.imagesBucket), [`originals/${id}`, `resized/${id}/thumbnail.webp`]);
    const stored = await s3.send(new HeadObjectCommand({ Bucket: names.imagesBucket, Key: `resized/${id}/thumbnail.webp` }));
    assert.equal(stored.ContentType, "image/webp");
    const originalHead = await s3.send(new HeadObjectCommand({ Bucket: names.imagesBucket, Key: `originals/${id}` }));
    assert.equal(originalHead.Metadata?.owner, "zip-user", "the original records its uploader");

    // The same function as the API's TOKEN authorizer: a valid token gets the policy of every private route, a forged one "Unauthorized".
    const methodArn = `arn:aws:execute-api:${config.region}:${ACCOUNT}:abc123/prod/GET/images/${id}`;
    const token = await issuer.mint({ sub: "zip-user", scope: "images:read images:write" });
    const allowed = (await lambda.invoke({ type: "TOKEN", authorizationToken: `Bearer ${token}`, methodArn }).catch((e: Error) => assert.fail(`${e.message}\n${lambda.output()}`))) as AuthorizerResult;
    assert.equal(allowed.principalId, "zip-user");
    const resources = allowed.policyDocument.Statement.filter((st) => st.Effect === "Allow").flatMap((st) => [st.Resource].flat());
    assert.equal(resources.length, ROUTES.filter((r) => r.access === "private").length, JSON.stringify(allowed.policyDocument));
    const [head, body] = token.split(".");
    const forged = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, "base64url").toString()), sub: "someone-else" })).toString("base64url")}.${token.split(".")[2]}`;
    await assert.rejects(lambda.invoke({ type: "TOKEN", authorizationToken: `Bearer ${forged}`, methodArn }), /Unauthorized/);
  });
}
