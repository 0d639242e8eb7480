// The fault proxy's own mechanics against a stub upstream (no moto): answers
// rewritten, rules that decide per request (and may pass), and observers that
// see the upstream's answer even when the client is given another.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, test } from "node:test";
import { startFaultProxy, type FaultProxy } from "./support/fault-proxy.ts";

let upstream: Server;
let proxy: FaultProxy;
let received = 0;

before(async () => {
  upstream = createServer((req, res) => {
    received += 1;
    req.resume();
    res.writeHead(200, { "Content-Type": "application/json", "x-amz-crc32": "1" }).end(JSON.stringify({ Handler: "index.handler" }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  proxy = await startFaultProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
});

after(async () => {
  await proxy?.close();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
});

beforeEach(() => {
  proxy.clear();
  received = 0;
});

/** A request as an SDK would sign it for `service` (the proxy reads the credential scope). */
const call = (service: string, path = "/2015-03-31/functions/f") =>
  fetch(`${proxy.url}${path}`, { headers: { authorization: `AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0` } });

test("a rewrite fault answers with what it makes of the upstream's answer, and only for the requests it is given", async () => {
  proxy.inject({
    name: "rename",
    match: { service: "lambda" },
    fault: { kind: "rewrite", rewrite: (answer) => ({ ...answer, body: Buffer.from(answer.body.toString().replace("index.handler", "rewritten.handler")) }) },
  });
  const first = await call("lambda");
  assert.deepEqual(await first.json(), { Handler: "rewritten.handler" });
  assert.equal(first.headers.get("content-length"), String(JSON.stringify({ Handler: "rewritten.handler" }).length));
  assert.deepEqual(await (await call("lambda")).json(), { Handler: "index.handler" });
  assert.equal(received, 2, "both reached the upstream");
  assert.equal(proxy.faulted("rename"), 1);
});

test("a rule deciding per request may wait on state and pass, without counting, to the next rule", async () => {
  const decided: string[] = [];
  proxy.inject({
    name: "pass",
    match: { service: "lambda" },
    fault: async (req) => {
      decided.push(req.path);
      return undefined;
    },
    times: Infinity,
  });
  proxy.inject({ name: "refuse", match: { service: "lambda" }, fault: { kind: "respond", status: 409, body: "{}" } });
  assert.equal((await call("lambda")).status, 409);
  assert.equal((await call("lambda")).status, 200);
  assert.deepEqual(decided, ["/2015-03-31/functions/f", "/2015-03-31/functions/f"]);
  assert.equal(proxy.faulted("pass"), 0);
  assert.equal(proxy.faulted("refuse"), 1);
});

test("an observer sees the upstream's answer of a call whose answer is lost, and clear() removes it", async () => {
  const seen: Array<[string, number]> = [];
  proxy.observe({ name: "watch", match: { service: "iam" }, seen: (req, answer) => seen.push([req.service, answer.status]) });
  proxy.inject({ name: "lose", match: { service: "iam" }, fault: { kind: "lose", answer: { kind: "respond", status: 500, body: "" } } });
  assert.equal((await call("iam", "/")).status, 500);
  await call("kms", "/");
  assert.deepEqual(seen, [["iam", 200]], "the client got a 500; the observer saw the 200 behind it, and nothing of kms");
  proxy.clear();
  await call("iam", "/");
  assert.equal(seen.length, 1);
});
