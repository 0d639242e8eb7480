// An https front for a dev issuer, for code that (as deployed) refuses
// anything but https: the Lambda authorizer in the zip run. The certificate is
// self-signed for 127.0.0.1 by Debian's openssl; the function's Node trusts it
// through NODE_EXTRA_CA_CERTS, as it would trust a public CA. Discovery names
// the https URL as the issuer, the key set is the dev issuer's, and tokens are
// minted with the https iss.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevIssuer } from "../../local/dev-issuer.ts";

export interface HttpsIssuer {
  issuer: string;
  audience: string;
  /** The certificate's PEM file, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  mint(claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startHttpsIssuer(audience: string): Promise<HttpsIssuer> {
  const dir = mkdtempSync(join(tmpdir(), "imgapi-issuer-tls-"));
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  const dev = await startDevIssuer({ audience });
  const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on("request", (req, res) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    const body =
      path === "/.well-known/openid-configuration" ? { issuer, jwks_uri: `${issuer}/jwks.json`, id_token_signing_alg_values_supported: ["ES256", "RS256"] } : path === "/jwks.json" ? dev.publicJwks() : undefined;
    res.writeHead(body === undefined ? 404 : 200, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body ?? { error: "not_found" }));
  });
  return {
    issuer,
    audience,
    caFile: cert,
    mint: (claims = {}) => dev.mint({ iss: issuer, ...claims }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await dev.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
