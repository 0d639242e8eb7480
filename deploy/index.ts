// npx tsx deploy/index.ts: stand up (or bring up to date) the whole image API
// in your AWS account. Safe to run again at any time: unchanged resources are
// left alone, and a run that stopped half-way is finished.
import { destroyClients } from "./aws-clients.ts";
import { awsCliOptions, COMMON_FLAGS, EXIT, clientsFromFlags, colour, configFromFlags, formatStep, progressPrinter, readFlags, reportFailure, runAsScript, type FlagSpec } from "./cli.ts";
import { deploy, type DeployResult } from "./run.ts";

/** Exported for test/docs-commands.test.ts, which parses every command line the docs show. */
export const FLAGS: Record<string, FlagSpec> = {
  ...COMMON_FLAGS,
  "rotate-signing-secret": {
    type: "boolean",
    description: "replace the secret that signs public image URLs (KMS-encrypted in the function's configuration); every signed URL handed out so far stops working",
  },
};
const USAGE = "npx tsx deploy/index.ts [options]";
const SUMMARY = "Creates or updates every resource of the image API (KMS keys, buckets, IAM role and its permissions boundary, log groups, Lambda, API Gateway with an API key and usage plan or IAM authorization, the optional S3 trigger, CloudTrail). Credentials come from the AWS SDK's default chain, as for the AWS CLI.";

function printOutputs(result: DeployResult, dryRun: boolean, seconds: number): void {
  const o = result.outputs;
  const changed = result.resources.filter((r) => r.action !== "unchanged").length;
  console.log("");
  if (dryRun) {
    console.log(changed === 0 ? colour.green(`Dry run: nothing to change (in ${seconds.toFixed(1)} s).`) : colour.yellow(`Dry run: ${changed} resource${changed === 1 ? "" : "s"} would change. Nothing was sent (in ${seconds.toFixed(1)} s).`));
    return;
  }
  const took = `in ${seconds.toFixed(1)} s`;
  console.log(colour.bold(changed === 0 ? `Deployed: everything was already up to date (${took}).` : `Deployed: ${changed} resource${changed === 1 ? "" : "s"} changed (${took}).`));
  const rows: Array<[string, string]> = [
    ["API endpoint", o.endpointUrl],
    ...(o.cdnUrl !== undefined ? ([["CDN URL", o.cdnUrl]] as Array<[string, string]>) : []),
    ["auth", o.auth === "iam" ? "iam (SigV4-signed requests, AWS_IAM)" : o.jwt !== undefined ? `jwt (bearer tokens of ${o.jwt.issuer} for ${o.jwt.audience}; ${o.jwt.authorizer === "TOKEN" ? "the function's TOKEN authorizer" : "a Cognito user pool authorizer"}; each image its uploader's)` : "apiKey (x-api-key header)"],
    ...(o.apiKeyId !== undefined ? ([["API key id", `${o.apiKeyId}${o.readApiKeyValue === undefined ? "" : " (client default; every client's: npx tsx keys/index.ts list)"}`]] as Array<[string, string]>) : []),
    ...(o.readApiKeyValue !== undefined ? ([["read the key", o.readApiKeyValue]] as Array<[string, string]>) : []),
    ["images bucket", o.imagesBucket],
    ["trail bucket", o.trailBucket],
    ["function", o.functionName],
    ["images key", o.keyArn],
    ["audit key", o.auditKeyArn],
    ["trail", o.trailName],
  ];
  for (const [label, value] of rows) console.log(`  ${label.padEnd(14)} ${value}`);
  if (o.clientPolicy) {
    printIamUsage(o);
    return;
  }
  if (o.jwt !== undefined) {
    console.log("\nTry it, with an access token your issuer gave a signed-in user:");
    console.log(`  API=${o.endpointUrl}`);
    console.log(`  TOKEN=...`);
    console.log(`  ID=$(curl -sS -X POST "$API/images" -H "Authorization: Bearer $TOKEN" -H "Content-Type: image/jpeg" --data-binary @photo.jpg | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).id')`);
    console.log(`  curl -sS "$API/images/$ID" -H "Authorization: Bearer $TOKEN"`);
    return;
  }
  // After `keys revoke default` there is no key to read: the id line says how to make one.
  if (o.readApiKeyValue === undefined) return;
  console.log("\nTry it:");
  console.log(`  API=${o.endpointUrl}`);
  console.log(`  KEY=$(${o.readApiKeyValue})`);
  console.log(`  ID=$(curl -sS -X POST "$API/images" -H "x-api-key: $KEY" -H "Content-Type: image/jpeg" --data-binary @photo.jpg | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).id')`);
  console.log(`  curl -sS "$API/images/$ID" -H "x-api-key: $KEY"`);
  console.log(`  curl -sS "$API/images/$ID/thumbnail" -H "x-api-key: $KEY" -o thumbnail.webp`);
}

/** iam mode: the policy callers need, and a signed request to try. */
function printIamUsage(o: DeployResult["outputs"]): void {
  console.log(`\nClient policy: attach it to the IAM users or roles that call the API (execute-api:Invoke on exactly its private routes):`);
  console.log(JSON.stringify(o.clientPolicy, null, 2).replace(/^/gm, "  "));
  console.log("\nTry it (curl 7.75+ signs with SigV4; add -H \"x-amz-security-token: $AWS_SESSION_TOKEN\" for temporary credentials):");
  console.log(`  API=${o.endpointUrl}`);
  const sign = `--aws-sigv4 "aws:amz:${o.region}:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"`;
  console.log(`  ID=$(curl -sS -X POST "$API/images" ${sign} -H "Content-Type: image/jpeg" --data-binary @photo.jpg | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).id')`);
  console.log(`  curl -sS "$API/images/$ID" ${sign}`);
  console.log(`  curl -sS "$API/images/$ID/thumbnail" ${sign} -o thumbnail.webp`);
}

export async function main(argv: string[]): Promise<number> {
  const flags = readFlags(argv, FLAGS, USAGE, SUMMARY);
  if (typeof flags === "number") return flags;
  const json = flags.json === true;
  const dryRun = flags["dry-run"] === true;
  const rotateSigningSecret = flags["rotate-signing-secret"] === true;
  const config = configFromFlags(flags);
  if (typeof config === "number") return config;
  const clients = clientsFromFlags(flags, config);
  const started = performance.now();
  try {
    if (!json) console.log(colour.bold(`${dryRun ? "Planning" : "Deploying"} stack ${config.stackName} in ${config.region}`));
    const result = await deploy({
      config,
      clients,
      dryRun,
      rotateSigningSecret,
      awsCliOptions: awsCliOptions(flags),
      progress: progressPrinter(json),
      onStep: (r) => {
        if (!json) console.log(formatStep(r, dryRun));
      },
    });
    if (json) console.log(JSON.stringify({ ok: true, dryRun, stack: config.stackName, region: config.region, resources: result.resources, outputs: result.outputs }, null, 2));
    else printOutputs(result, dryRun, (performance.now() - started) / 1000);
    return EXIT.ok;
  } catch (e) {
    return reportFailure("Deploy", e, json, flags);
  } finally {
    destroyClients(clients);
  }
}

runAsScript(import.meta.url, main);
