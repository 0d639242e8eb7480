// npm start's jwt flags (--auth jwt, --jwt-issuer, --jwt-audience,
// --jwt-scopes, --jwt-dev-issuer): checked with the other flags, before
// anything heavy loads; the dev issuer is started only when asked for.
import { UsageError } from "../config/usage-error.ts";

export interface JwtFlags {
  issuer?: string;
  audience?: string;
  scopes?: { read: string; write: string };
  /** --jwt-dev-issuer: a loopback issuer is started, and a token for it printed. */
  dev: boolean;
}

export interface LocalIssuer {
  issuer: string;
  audience: string;
  /** Minted by the dev issuer. */
  token?: string;
  close?: () => Promise<void>;
}

export function parseJwtFlags(values: { "jwt-issuer"?: string; "jwt-audience"?: string; "jwt-scopes"?: string; "jwt-dev-issuer"?: boolean }): JwtFlags {
  const dev = values["jwt-dev-issuer"] === true;
  if (dev && values["jwt-issuer"] !== undefined) throw new UsageError("Give --jwt-issuer or --jwt-dev-issuer, not both");
  if (!dev && (values["jwt-issuer"] === undefined || values["jwt-audience"] === undefined)) {
    throw new UsageError("--auth jwt needs --jwt-issuer URL and --jwt-audience AUDIENCE (or --jwt-dev-issuer to start a local issuer)");
  }
  let scopes: { read: string; write: string } | undefined;
  if (values["jwt-scopes"] !== undefined) {
    const [read, write, ...rest] = values["jwt-scopes"].split(",");
    if (!read || !write || rest.length > 0) throw new UsageError(`Expected READ,WRITE (two scopes) for --jwt-scopes but received ${JSON.stringify(values["jwt-scopes"])}`);
    scopes = { read, write };
  }
  return {
    dev,
    ...(values["jwt-issuer"] === undefined ? {} : { issuer: values["jwt-issuer"] }),
    ...(values["jwt-audience"] === undefined ? {} : { audience: values["jwt-audience"] }),
    ...(scopes === undefined ? {} : { scopes }),
  };
}

/** The issuer the flags name, or a dev issuer on loopback with a token minted for "dev-user" (with both scopes, when scopes are set). */
export async function jwtIssuer(flags: JwtFlags): Promise<LocalIssuer> {
  if (!flags.dev) return { issuer: flags.issuer!, audience: flags.audience! };
  const { startDevIssuer } = await import("./dev-issuer.ts");
  const dev = await startDevIssuer({ audience: flags.audience ?? "imgapi-local" });
  const token = await dev.mint({ sub: "dev-user", ...(flags.scopes === undefined ? {} : { scope: `${flags.scopes.read} ${flags.scopes.write}` }) });
  return { issuer: dev.issuer, audience: dev.audience, token, close: () => dev.close() };
}
