// How deploy hands the Lambda authorizer its settings: one environment
// variable per setting, checked once at cold start, every problem reported
// together (a bad deploy fails at init, not on the first token). Without zod:
// the authorizer is bundled on its own and stays small.
import { ConfigError, describeReceived } from "../../config/config-error.ts";
import { checkFetchUrl } from "./oidc-discovery.ts";
import type { JwtSettings } from "./jwt-verify.ts";

export const JWT_ISSUER_ENV = "JWT_ISSUER";
export const JWT_AUDIENCE_ENV = "JWT_AUDIENCE";
/** Optional: without it, the authorizer reads jwks_uri from the issuer's discovery document. */
export const JWT_JWKS_URI_ENV = "JWT_JWKS_URI";
/** Optional, both or neither: the scopes that grant the "read" and "write" routes. */
export const JWT_READ_SCOPE_ENV = "JWT_READ_SCOPE";
export const JWT_WRITE_SCOPE_ENV = "JWT_WRITE_SCOPE";

const REDEPLOY = "redeploy with deploy/index.ts, which sets it from config.json's jwt block";

/** The environment deploy writes for these settings (unset optional ones are left out). */
export function jwtSettingsToEnv(settings: JwtSettings): Record<string, string> {
  return {
    [JWT_ISSUER_ENV]: settings.issuer,
    [JWT_AUDIENCE_ENV]: settings.audience,
    ...(settings.jwksUri === undefined ? {} : { [JWT_JWKS_URI_ENV]: settings.jwksUri }),
    ...(settings.scopes === undefined ? {} : { [JWT_READ_SCOPE_ENV]: settings.scopes.read, [JWT_WRITE_SCOPE_ENV]: settings.scopes.write }),
  };
}

/** The authorizer's settings; throws one ConfigError naming every problem. Deployed issuers are https only. */
export function jwtSettingsFromEnv(env: NodeJS.ProcessEnv): JwtSettings {
  const problems: string[] = [];
  const value = (name: string) => (env[name] === "" ? undefined : env[name]);
  const url = (name: string, what: string) => {
    const raw = value(name);
    if (raw === undefined) return undefined;
    try {
      checkFetchUrl(raw, what);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
    return raw;
  };

  const issuer = url(JWT_ISSUER_ENV, "the issuer");
  if (issuer === undefined) problems.push(`Expected an https:// URL for ${JWT_ISSUER_ENV} but received nothing: ${REDEPLOY}`);
  const audience = value(JWT_AUDIENCE_ENV);
  if (audience === undefined) problems.push(`Expected a non-empty string for ${JWT_AUDIENCE_ENV} but received nothing: ${REDEPLOY}`);
  const jwksUri = url(JWT_JWKS_URI_ENV, "the JWKS URI");
  const read = value(JWT_READ_SCOPE_ENV);
  const write = value(JWT_WRITE_SCOPE_ENV);
  if ((read === undefined) !== (write === undefined)) {
    const [set, unset] = read === undefined ? [JWT_WRITE_SCOPE_ENV, JWT_READ_SCOPE_ENV] : [JWT_READ_SCOPE_ENV, JWT_WRITE_SCOPE_ENV];
    problems.push(`Expected ${unset} too, since ${set} is set (both or neither) but received ${describeReceived(env[unset])}: ${REDEPLOY}`);
  }
  for (const [name, scope] of [[JWT_READ_SCOPE_ENV, read], [JWT_WRITE_SCOPE_ENV, write]] as const) {
    if (scope !== undefined && /\s/.test(scope)) problems.push(`Expected one scope without spaces for ${name} but received ${describeReceived(scope)}`);
  }
  if (problems.length > 0) throw new ConfigError("authorizer environment", problems);
  return {
    issuer: issuer!,
    audience: audience!,
    ...(jwksUri === undefined ? {} : { jwksUri }),
    ...(read === undefined || write === undefined ? {} : { scopes: { read, write } }),
  };
}
