// The Postman collection's user flow, top to bottom: what a newcomer does with
// a fresh stack and only baseUrl and apiKey set. Each step names the answer of
// openapi.yaml its status and shape are checked against (postman-collection.ts
// turns the steps into requests and test scripts); `tests` adds what the
// schema cannot say, such as which code or which image came back. Later steps
// read the collection variables earlier ones set, so the order matters: the
// upload first, DELETE last.

export interface Step {
  name: string;
  /** The operation of openapi.yaml this request exercises; undefined for the PUT to S3. */
  operation?: `${"GET" | "POST" | "PUT" | "DELETE"} /${string}`;
  status: number;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Postman's raw URL, with {{variables}}. */
  url: string;
  /** Sends x-api-key: {{apiKey}} unless false. */
  key?: boolean;
  headers?: Record<string, string>;
  body?: { file: string } | { json: unknown } | { text: string };
  /** A component schema to check the JSON body with instead of the operation's documented answer, and why. */
  bodyComponent?: { name: string; why: string };
  /** Headers that must be present, each checked against the answer's documented header schema. */
  requiredHeaders?: string[];
  /** Runs before the request (sandbox JavaScript). */
  prerequest?: string[];
  /** More checks after the status and shape ones (sandbox JavaScript; `body` is the parsed JSON when there is one). */
  tests: string[];
  description: string;
}

export const SAMPLE = "sample.jpg";
/** Over the largest uploads.maxBytes any configuration may set (5 GB), so every stack refuses it. */
const TOO_LARGE = 5_000_000_001;

export function flowSteps(sampleBytes: number): Step[] {
  return [
    {
      name: "Upload sample.jpg",
      operation: "POST /images",
      status: 201,
      method: "POST",
      url: "{{baseUrl}}/images?name=sample.jpg",
      headers: { "Content-Type": "image/jpeg" },
      body: { file: SAMPLE },
      requiredHeaders: ["Location"],
      tests: [
        'pm.test("stores the sample as a 400x267 JPEG", function () { pm.expect([body.original.format, body.original.width, body.original.height, body.original.bytes]).to.eql(["jpeg", 400, 267, ' + sampleBytes + "]); });",
        'pm.collectionVariables.set("imageId", body.id);',
        // Postman keeps variables between runs: the ETag of the last run's image is no use.
        'pm.collectionVariables.set("etag", "");',
      ],
      description: "Sends postman/sample.jpg as the raw body and keeps the new id in the imageId variable for the requests below.",
    },
    {
      name: "List its sizes",
      operation: "GET /images/{id}",
      status: 200,
      method: "GET",
      url: "{{baseUrl}}/images/{{imageId}}",
      tests: [
        'pm.test("lists the uploaded image and at least one size", function () { pm.expect(body.id).to.equal(pm.collectionVariables.get("imageId")); pm.expect(body.variants).to.not.be.empty; });',
        'pm.collectionVariables.set("variants", JSON.stringify(body.variants));',
        'pm.collectionVariables.set("sizesLeft", JSON.stringify(body.variants.map(function (v) { return v.size; })));',
        'pm.collectionVariables.set("publicUrl", body.variants[0].publicUrl || "");',
      ],
      description: "Makes every configured size and lists them; keeps the list for the size fetches and the first size's public URL.",
    },
    {
      name: "Fetch each size's bytes",
      operation: "GET /images/{id}/{size}",
      status: 200,
      method: "GET",
      url: "{{baseUrl}}/images/{{imageId}}/{{size}}",
      requiredHeaders: ["Content-Type", "ETag", "Cache-Control"],
      prerequest: ['pm.collectionVariables.set("size", JSON.parse(pm.collectionVariables.get("sizesLeft") || "[]")[0] || "");'],
      tests: [
        'var listed = JSON.parse(pm.collectionVariables.get("variants") || "[]").find(function (v) { return v.size === pm.collectionVariables.get("size"); });',
        'pm.test("answers the listed bytes of " + pm.collectionVariables.get("size"), function () { pm.expect(listed, "a size the listing has").to.be.an("object"); pm.expect(pm.response.headers.get("Content-Type")).to.equal(listed.contentType); pm.expect(pm.response.stream.length).to.equal(listed.bytes); });',
        'if (!pm.collectionVariables.get("etag")) { pm.collectionVariables.set("etag", pm.response.headers.get("ETag")); pm.collectionVariables.set("etagSize", pm.collectionVariables.get("size")); }',
        // One request, run once per listed size: a stack configured with other sizes runs as well.
        'var left = JSON.parse(pm.collectionVariables.get("sizesLeft") || "[]").slice(1);',
        'pm.collectionVariables.set("sizesLeft", JSON.stringify(left));',
        "if (left.length > 0) pm.execution.setNextRequest(pm.info.requestName);",
      ],
      description: "Runs once per size of the listing (it repeats itself while sizes are left): each answer is that size's bytes, as many as the listing says, of its content type.",
    },
    {
      name: "Fetch a size again with its ETag",
      operation: "GET /images/{id}/{size}",
      status: 304,
      method: "GET",
      url: "{{baseUrl}}/images/{{imageId}}/{{etagSize}}",
      headers: { "If-None-Match": "{{etag}}" },
      requiredHeaders: ["ETag"],
      tests: ['pm.test("sends no bytes again", function () { pm.expect(pm.response.stream.length).to.equal(0); });'],
      description: "A client holding the current copy gets 304 and no body.",
    },
    {
      name: "Fetch the public URL without the key",
      operation: "GET /public/images/{id}/{size}",
      status: 200,
      method: "GET",
      url: "{{publicUrl}}",
      key: false,
      requiredHeaders: ["Content-Type", "ETag", "Cache-Control"],
      tests: ['pm.test("serves image bytes to a caller with no key", function () { pm.expect(pm.request.headers.has("x-api-key")).to.equal(false); pm.expect(pm.response.stream.length).to.be.above(0); });'],
      description: "The first size's signed publicUrl from the listing, as an <img src> would load it.",
    },
    {
      name: "Set the focal point",
      operation: "PUT /images/{id}/focus",
      status: 200,
      method: "PUT",
      url: "{{baseUrl}}/images/{{imageId}}/focus",
      body: { json: { x: 0.3, y: 0.6 } },
      tests: ['pm.test("stores the point", function () { pm.expect(body.original.focus).to.eql({ x: 0.3, y: 0.6 }); });'],
      description: "Cover crops of the image keep (0.3, 0.6) in frame from now on.",
    },
    {
      name: "Clear the focal point",
      operation: "DELETE /images/{id}/focus",
      status: 200,
      method: "DELETE",
      url: "{{baseUrl}}/images/{{imageId}}/focus",
      tests: ['pm.test("the point is gone", function () { pm.expect(body.original).to.not.have.property("focus"); });'],
      description: "Cover crops use each size's position again.",
    },
    {
      name: "Missing key is refused",
      operation: "GET /images/{id}",
      status: 403,
      method: "GET",
      url: "{{baseUrl}}/images/{{imageId}}",
      key: false,
      bodyComponent: {
        name: "Error",
        why: "openapi.yaml's 403 (GatewayForbidden) lists only the function's FORBIDDEN: the gateway's INVALID_API_KEY is no ErrorCode, so test/openapi.test.ts keeps it out of the enums",
      },
      tests: ['pm.test("the gateway answers INVALID_API_KEY", function () { pm.expect(body.error.code).to.equal("INVALID_API_KEY"); });'],
      description: "No x-api-key: the gateway refuses before the function runs, in the API's error shape.",
    },
    {
      name: "Unknown size is refused",
      operation: "GET /images/{id}/{size}",
      status: 400,
      method: "GET",
      url: "{{baseUrl}}/images/{{imageId}}/no-such-size",
      tests: ['pm.test("code UNKNOWN_SIZE", function () { pm.expect(body.error.code).to.equal("UNKNOWN_SIZE"); });'],
      description: "A size the stack does not configure; the message lists the valid ones.",
    },
    {
      name: "Malformed id is refused",
      operation: "GET /images/{id}",
      status: 400,
      method: "GET",
      url: "{{baseUrl}}/images/not-an-id",
      tests: ['pm.test("code INVALID_ID", function () { pm.expect(body.error.code).to.equal("INVALID_ID"); });'],
      description: "Ids are UUIDs the API made; anything else is refused before storage is read.",
    },
    {
      name: "Upload that is not an image is refused",
      operation: "POST /images",
      status: 415,
      method: "POST",
      url: "{{baseUrl}}/images",
      headers: { "Content-Type": "application/octet-stream" },
      body: { text: "plain text, not an image" },
      tests: ['pm.test("code UNSUPPORTED_IMAGE_TYPE", function () { pm.expect(body.error.code).to.equal("UNSUPPORTED_IMAGE_TYPE"); });'],
      description: "The format is judged from the bytes, whatever the Content-Type says.",
    },
    {
      name: "Too large an upload is refused",
      operation: "POST /uploads",
      status: 413,
      method: "POST",
      url: "{{baseUrl}}/uploads",
      body: { json: { contentType: "image/jpeg", contentLength: TOO_LARGE, name: "huge.jpg" } },
      tests: ['pm.test("code PAYLOAD_TOO_LARGE", function () { pm.expect(body.error.code).to.equal("PAYLOAD_TOO_LARGE"); });'],
      description: "Declares a file over any stack's uploads.maxBytes: refused before a URL is signed.",
    },
    {
      name: "Ask for a presigned upload",
      operation: "POST /uploads",
      status: 201,
      method: "POST",
      url: "{{baseUrl}}/uploads",
      body: { json: { contentType: "image/jpeg", contentLength: sampleBytes, name: "sample.jpg" } },
      tests: [
        'pm.test("a PUT URL for a new id", function () { pm.expect(body.upload.method).to.equal("PUT"); pm.expect(body.id).to.not.equal(pm.collectionVariables.get("imageId")); });',
        'pm.collectionVariables.set("uploadId", body.id);',
        'pm.collectionVariables.set("uploadUrl", body.upload.url);',
        'pm.collectionVariables.set("uploadContentType", body.upload.headers["Content-Type"] || "image/jpeg");',
      ],
      description: "The way for files over POST /images' limit; sample.jpg stands in for a large one (contentLength is its exact size).",
    },
    {
      name: "PUT sample.jpg to the presigned URL",
      status: 200,
      method: "PUT",
      url: "{{uploadUrl}}",
      key: false,
      headers: { "Content-Type": "{{uploadContentType}}" },
      body: { file: SAMPLE },
      tests: ['pm.test("S3 stored it", function () { pm.expect(pm.response.headers.get("ETag")).to.be.a("string").and.not.empty; });'],
      description: "Straight to S3 (not the API): no key, the headers POST /uploads named.",
    },
    {
      name: "List the presigned upload's sizes",
      operation: "GET /images/{id}",
      status: 200,
      method: "GET",
      url: "{{baseUrl}}/images/{{uploadId}}",
      tests: ['pm.test("checked and resized like an upload", function () { pm.expect([body.id, body.original.format, body.original.bytes]).to.eql([pm.collectionVariables.get("uploadId"), "jpeg", ' + sampleBytes + "]); });"],
      description: "The first GET checks the uploaded object (type, limits, a full decode), then makes the sizes.",
    },
    {
      name: "Delete the presigned upload",
      operation: "DELETE /images/{id}",
      status: 204,
      method: "DELETE",
      url: "{{baseUrl}}/images/{{uploadId}}",
      tests: [],
      description: "Leaves the stack as the run found it.",
    },
    {
      name: "Delete the image",
      operation: "DELETE /images/{id}",
      status: 204,
      method: "DELETE",
      url: "{{baseUrl}}/images/{{imageId}}",
      tests: [],
      description: "The original and every size, in every format.",
    },
    {
      name: "The deleted image is gone",
      operation: "GET /images/{id}",
      status: 404,
      method: "GET",
      url: "{{baseUrl}}/images/{{imageId}}",
      tests: ['pm.test("code IMAGE_NOT_FOUND", function () { pm.expect(body.error.code).to.equal("IMAGE_NOT_FOUND"); });'],
      description: "After DELETE the id answers 404.",
    },
  ];
}
