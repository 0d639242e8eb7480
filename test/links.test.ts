// Links and Location come from the API's own domain and stage as API Gateway
// puts them in the event (requestContext), or from a configured base URL;
// never from the Host or X-Forwarded-Host headers a client writes. On moto
// through the handler: every route that answers links.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { parseBaseUrl } from "../function/actions/links.ts";
import { createApp } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { apiEvent, HOST, listEvent, responseJson, STAGE, uploadEvent } from "./support/events.ts";
import { loadFixture } from "./support/fixtures.ts";
import { s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);
const FORGED = { Host: "evil.example", "X-Forwarded-Host": "evil.example" };
const jpeg = loadFixture("sharp_320x240.jpg");

interface Answers {
  location: string | undefined;
  links: string[];
}

/** Every absolute URL into the API that the three link-answering routes give, for requests carrying `headers`. */
async function linksAnswered(handler: ReturnType<typeof createApp>, headers: Record<string, string>): Promise<Answers> {
  const forge = (event: APIGatewayProxyEvent): APIGatewayProxyEvent => ({ ...event, headers: { ...event.headers, ...headers } });
  const posted = await handler(forge(uploadEvent(jpeg, { contentType: "image/jpeg" })));
  assert.equal(posted.statusCode, 201, posted.body);
  const created = responseJson<{ id: string; links: { self: string; sizes: Record<string, string> } }>(posted);
  const listed = responseJson<{ links: { self: string }; variants: Array<{ link: string; publicUrl: string }> }>(await handler(forge(listEvent(created.id))));
  const upload = responseJson<{ links: { self: string; sizes: Record<string, string> } }>(
    await handler(forge(apiEvent({ method: "POST", resource: "/uploads", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ contentType: "image/png", contentLength: 10 }), base64: true }))),
  );
  return {
    location: posted.headers?.Location as string | undefined,
    links: [
      created.links.self,
      ...Object.values(created.links.sizes),
      listed.links.self,
      ...listed.variants.flatMap((v) => [v.link, v.publicUrl]),
      upload.links.self,
      ...Object.values(upload.links.sizes),
    ],
  };
}

describe("links, on moto", () => {
  let moto: Moto;
  let s3: S3Client;

  before(async () => {
    moto = await startMoto();
    s3 = new S3Client(s3ClientConfig(moto));
    await s3.send(new CreateBucketCommand({ Bucket: "imgapi-links" }));
  });
  after(async () => {
    s3?.destroy();
    await moto?.stop();
  });

  const app = (baseUrl?: string) =>
    createApp({ store: new ImageStore(s3, "imgapi-links"), settings, log: () => {}, signingSecret: () => Promise.resolve(Buffer.alloc(32, 1)), ...(baseUrl === undefined ? {} : { baseUrl }) });

  test("a forged Host or X-Forwarded-Host changes no link: they are the API's domain and stage from the event", async () => {
    const answers = await linksAnswered(app(), FORGED);

    const base = `https://${HOST}/${STAGE}/`;
    assert.ok(answers.location?.startsWith(`${base}images/`), answers.location);
    assert.ok(answers.links.length >= 12, `${answers.links.length} links`);
    for (const link of answers.links) assert.ok(link.startsWith(base), link);
    assert.ok(!JSON.stringify(answers).includes("evil"));
  });

  test("with a configured base URL (a custom domain), every link starts with it, whatever the headers", async () => {
    const answers = await linksAnswered(app(parseBaseUrl("https://images.example.com/v1/")), FORGED);

    assert.ok(answers.location?.startsWith("https://images.example.com/v1/images/"), answers.location);
    for (const link of answers.links) assert.ok(link.startsWith("https://images.example.com/v1/"), link);
  });
});

test("a base URL is checked: absolute http(s), no credentials, query or fragment", () => {
  assert.equal(parseBaseUrl("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
  for (const bad of ["images.example.com", "ftp://x.example", "https://u:p@x.example", "https://x.example/?a=1", "https://x.example/#f"]) {
    assert.throws(() => parseBaseUrl(bad), /for IMGAPI_BASE_URL but received/, bad);
  }
});
