# The deliberate breaks of the architecture issue: each applies one small
# change that breaks a promised behaviour, runs the tests that should notice,
# restores the file, and prints CAUGHT (a test failed) or NOT CAUGHT.
#   python3 scripts/deliberate-breaks.py [ROOT] [N ...]
# Run it in a scratch worktree: it edits source files while it runs.
import subprocess, sys, os, time
ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = [
 ("API key check skipped in the local gateway", "local/gateway-auth.ts", "  if (!apiKeyMatches(auth.apiKey, given)) return", "  if (false && !apiKeyMatches(auth.apiKey, given)) return", ["test/local-server.test.ts"]),
 ("an inside size 1 px wider", "function/image/plan.ts", "  const width = Math.max(1, Math.round(W * scale));\n  const height = Math.max(1, Math.round(H * scale));\n  return { width, height, scale, crop: false", "  const width = Math.max(1, Math.round(W * scale)) + 1;\n  const height = Math.max(1, Math.round(H * scale));\n  return { width, height, scale, crop: false", ["test/image-core.test.ts"]),
 ("no TLS-only deny", "deploy/policies/bucket-policies.ts", "Statement: [tlsOnlyStatement(ctx, spec.bucket), ...(spec.extraStatements ?? [])]", "Statement: [...(spec.extraStatements ?? [])]", ["test/security-audit.test.ts"]),
 ("metadata kept", "function/image/render.ts", "budget.apply(encodeAs(pipeline, job, hasAlpha))", "budget.apply(encodeAs(pipeline, job, hasAlpha).keepMetadata())", ["test/image-core.test.ts"]),
 ("the pixel limit off", "function/image/inspect.ts", "  if (width * height > limits.maxPixels) {", "  if (false) {", ["test/hostile-input.test.ts", "test/image-core.test.ts"]),
 ("signed URLs not checking expiry", "function/signed-urls.ts", "  if (expiry <= nowSeconds) {", "  if (false) {", ["test/signed-urls.test.ts"]),
 ("quota period drift ignored", "deploy/resources/usage-plan.ts", '  if (plan.quota?.period !== quota.period) ops.push(', '  if (false) ops.push(', ["test/deploy-api-drift.test.ts"]),
 ("nosniff dropped", "function/http/response.ts", '"X-Content-Type-Options": "nosniff", ', '', ["test/local-server.test.ts"]),
 ("a key pending deletion not cancelled", "deploy/resources/kms-key.ts", "matches: async () => !PENDING_DELETION.has(state),", "matches: async () => true,", ["test/deploy-drift.test.ts"]),
 ("log-group tag drift ignored", "deploy/resources/log-groups.ts", "  if (Object.keys(missing).length) await changes.apply(", "  if (false) await changes.apply(", ["test/deploy-drift.test.ts"]),
 ("no wait between code and configuration updates", "deploy/resources/lambda-function.ts", '"updating code of");\n    await waitForFunction(ctx, "updated");', '"updating code of");', ["test/deploy-strict.test.ts"]),
 ("a disabled API key not re-enabled", "deploy/resources/api-key.ts", "  if (key.enabled !== true) {", "  if (false) {", ["test/deploy-api-drift.test.ts"]),
 ("DeleteObjects batches of 100,000", "function/storage/variant-objects.ts", "const DELETE_BATCH = 1000;", "const DELETE_BATCH = 100_000;", ["test/delete-image.test.ts"]),
 ("DeleteObjects batches of 100,000 (teardown)", "deploy/resources/bucket-hardening.ts", "export const DELETE_OBJECTS_BATCH = 1000;", "export const DELETE_OBJECTS_BATCH = 100_000;", ["test/deploy-strict.test.ts"]),
 ("a refused presigned original not deleted", "function/original-bytes.ts", "    await (got.upload ? store.deleteUpload(id) : store.deleteOriginal(id));", "    void 0;", ["test/upload-checking.test.ts"]),
 # The original's lifecycle (function/originals.ts, original-bytes.ts): the upload moved before its sizes are stored, its bytes read twice.
 ("an upload moved before its sizes are stored", "function/original-bytes.ts", "  const { variants } = made;\n", "  const { variants } = made;\n  if (got.upload) await store.promoteUpload(original, got.etag);\n", ["test/upload-checking.test.ts"]),
 ("an unchecked original's bytes read twice", "function/original-bytes.ts", "  const got = options.uploadOnly ?", "  await store.getOriginal(id, maxBytes);\n  const got = options.uploadOnly ?", ["test/upload-checking.test.ts"]),
]
only = set(sys.argv[2:])
env = dict(os.environ, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED="true")
for i, (name, path, old, new, tests) in enumerate(B, 1):
    if only and str(i) not in only: continue
    p = os.path.join(ROOT, path); src = open(p).read()
    if src.count(old) < 1:
        print(f"{i:2} {name}: PATTERN NOT FOUND in {path}", flush=True); continue
    open(p, "w").write(src.replace(old, new))
    try:
        t = time.time()
        r = subprocess.run(["npx", "tsx", "--test", "--test-concurrency=1", *tests], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        out = r.stdout
        fails = [l.strip() for l in out.splitlines() if l.lstrip().startswith("not ok")]
        status = "CAUGHT" if r.returncode != 0 else "NOT CAUGHT"
        print(f"{i:2} {name}: {status} by {', '.join(tests)} ({time.time()-t:.0f} s): {fails[:2]}", flush=True)
    finally:
        open(p, "w").write(src)
