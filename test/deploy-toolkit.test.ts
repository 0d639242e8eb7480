// The reconcile toolkit on its own, without AWS: propagation retries stop at
// their named timeout and retry nothing else; a create refused as "already
// exists" adopts only what the finder sees; finders swallow only their own
// service's not-found; a dry run lists a change without sending it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import { NoSuchEntityException } from "@aws-sdk/client-iam";
import { DeployError } from "../deploy/errors.ts";
import { Changes, createOrAdopt, missingTags, orAbsent, PROPAGATION, retryWhilePropagating } from "../deploy/toolkit/index.ts";
import { virtualClock } from "./support/clock.ts";

const notAssumable = () => new InvalidParameterValueException({ message: "The role defined for the function cannot be assumed by Lambda.", $metadata: {} });
const scope = () => ({ clock: virtualClock(), progress: () => {} });

describe("retryWhilePropagating", () => {
  test("retries the propagation answer with backoff until the call goes through", async () => {
    const s = scope();
    let calls = 0;
    const value = await retryWhilePropagating(s, PROPAGATION.roleToLambda, async () => {
      calls += 1;
      if (calls < 4) throw notAssumable();
      return "created";
    });
    assert.equal(value, "created");
    assert.equal(calls, 4);
    assert.deepEqual(s.clock.slept, [1_000, 2_000, 4_000]);
  });

  test("any other error propagates at once, unwrapped", async () => {
    const other = new InvalidParameterValueException({ message: "Unzipped size must be smaller than 262144000 bytes", $metadata: {} });
    let calls = 0;
    await assert.rejects(retryWhilePropagating(scope(), PROPAGATION.roleToLambda, async () => { calls += 1; throw other; }), (e) => e === other);
    assert.equal(calls, 1);
  });

  test("past the named timeout the last answer becomes a DeployError saying what never arrived and where AWS documents it", async () => {
    const s = scope();
    await assert.rejects(retryWhilePropagating(s, PROPAGATION.roleToLambda, async () => { throw notAssumable(); }), (e: unknown) => {
      assert.ok(e instanceof DeployError);
      assert.equal(e.code, "InvalidParameterValueExceptionAfterTimeout");
      assert.match(e.message, /function's IAM role reaching Lambda.*cannot be assumed by Lambda.*after 120 s.*run the same command again/);
      return true;
    });
    assert.equal(s.clock.now(), PROPAGATION.roleToLambda.timeoutMs, "it waited exactly the timeout, in backoff steps of at most 8 s");
    assert.ok(Math.max(...s.clock.slept) <= 8_000);
  });

  test("each of several answers is retried for its own timeout", async () => {
    const s = scope();
    const busy = new ResourceConflictException({ message: "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:f", $metadata: {} });
    const answers = [busy, notAssumable(), busy];
    const value = await retryWhilePropagating(s, [PROPAGATION.functionUpdate, PROPAGATION.roleToLambda], async () => {
      const next = answers.shift();
      if (next) throw next;
      return "updated";
    });
    assert.equal(value, "updated");
  });
});

describe("createOrAdopt", () => {
  const exists = () => new ResourceConflictException({ message: "Function already exist: f", $metadata: {} });

  test("a create refused as 'already exists' (the retry of a lost answer) adopts what the finder sees", async () => {
    const got = await createOrAdopt("lambda", async () => { throw exists(); }, async () => "the function the first attempt made");
    assert.deepEqual(got, { value: "the function the first attempt made", adopted: true });
  });

  test("'already exists' with nothing to find, or any other error, propagates", async () => {
    const refusal = exists();
    await assert.rejects(createOrAdopt("lambda", async () => { throw refusal; }, async () => undefined), (e) => e === refusal);
    const other = new InvalidParameterValueException({ message: "bad", $metadata: {} });
    let looked = false;
    await assert.rejects(createOrAdopt("lambda", async () => { throw other; }, async () => { looked = true; return "x"; }), (e) => e === other);
    assert.equal(looked, false);
  });
});

describe("orAbsent", () => {
  test("only the service's own not-found answers undefined", async () => {
    assert.equal(await orAbsent("lambda", async () => { throw new ResourceNotFoundException({ message: "no", $metadata: {} }); }), undefined);
    assert.equal(await orAbsent("iam", async () => { throw new NoSuchEntityException({ message: "no", $metadata: {} }); }), undefined);
    // IAM's not-found means nothing to Lambda's finder: it propagates.
    await assert.rejects(orAbsent("lambda", async () => { throw new NoSuchEntityException({ message: "no", $metadata: {} }); }), { name: "NoSuchEntityException" });
    const denied = Object.assign(new Error("denied"), { name: "AccessDeniedException" });
    await assert.rejects(orAbsent("kms", async () => { throw denied; }), (e) => e === denied);
  });
});

describe("missingTags and Changes", () => {
  test("tags are compared whatever shape the service returns them in", () => {
    const desired = { "imgapi:stack": "s", team: "img" };
    assert.deepEqual(missingTags({ "imgapi:stack": "s", team: "img", extra: "kept" }, desired), {});
    assert.deepEqual(missingTags([{ Key: "imgapi:stack", Value: "s" }], desired), { team: "img" });
    assert.deepEqual(missingTags([{ TagKey: "imgapi:stack", TagValue: "other" }, { TagKey: "team", TagValue: "img" }], desired), { "imgapi:stack": "s" });
    assert.deepEqual(missingTags(undefined, desired), desired);
  });

  test("a dry run lists a change without sending it; a real run sends it", async () => {
    let sent = 0;
    const dry = new Changes({ dryRun: true }, "thing", "t");
    assert.equal(await dry.apply("policy", "x:Put", async () => ++sent), undefined);
    assert.equal(sent, 0);
    assert.deepEqual(dry.report(), { resource: "thing", name: "t", action: "updated", detail: "policy" });
    const real = new Changes({ dryRun: false }, "thing", "t");
    assert.equal(await real.apply("policy", "x:Put", async () => ++sent), 1);
    assert.deepEqual(new Changes({ dryRun: false }, "thing", "t").report(), { resource: "thing", name: "t", action: "unchanged" });
  });
});
