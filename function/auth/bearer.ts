// The shape of a bearer header API Gateway checks before it invokes the
// authorizer (the authorizer's identityValidationExpression): a request
// whose Authorization header does not match is refused with 401 and costs no
// invocation. The local gateway applies the same expression.
// https://docs.aws.amazon.com/apigateway/latest/api/API_CreateAuthorizer.html

/** "Bearer " and a compact JWS: three base64url parts, the last possibly empty (which the authorizer then refuses). */
export const BEARER_PATTERN = "^[Bb]earer [-_A-Za-z0-9]+\\.[-_A-Za-z0-9]+\\.[-_A-Za-z0-9]*$";

/** How long API Gateway caches an authorizer's answer per token: a revoked token works this much longer at most. */
export const AUTHORIZER_CACHE_SECONDS = 300;

export const bearerShaped = (authorization: string | undefined): boolean => authorization !== undefined && new RegExp(BEARER_PATTERN).test(authorization);
