// The local gateway's own answers (API Gateway's "gateway responses"): the
// body deploy writes for each type, the status API Gateway uses, and the
// x-amzn-ErrorType header it sends.
import type { APIGatewayProxyResult } from "aws-lambda";
import { gatewayErrorBody, type GatewayResponseType } from "../function/http/gateway-errors.ts";

/**
 * One of API Gateway's own answers (a "gateway response"), with the body
 * deploy gives that type (function/http/gateway-errors.ts): the function's
 * error shape {"error": {"code", "message"}}, the message API Gateway's own
 * unless the table fixes a clearer one.
 */
export function gatewayResponse(type: GatewayResponseType, statusCode: number, message: string, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { "Content-Type": "application/json", ...headers },
    body: gatewayErrorBody(type, message),
  };
}

export const missingAuthenticationToken = (headers?: Record<string, string>) =>
  gatewayResponse("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token", { "x-amzn-ErrorType": "MissingAuthenticationTokenException", ...headers });
export const forbidden = (headers?: Record<string, string>) =>
  gatewayResponse("INVALID_API_KEY", 403, "Forbidden", { "x-amzn-ErrorType": "ForbiddenException", ...headers });

/** The gateway response type of a SigV4 refusal: API Gateway's own for the three it names, its 4XX default otherwise. */
const SIGV4_TYPES: Record<string, GatewayResponseType> = {
  MissingAuthenticationTokenException: "MISSING_AUTHENTICATION_TOKEN",
  InvalidSignatureException: "INVALID_SIGNATURE",
  ExpiredTokenException: "EXPIRED_TOKEN",
};
/** An AWS_IAM method's refusal: 403 with the SigV4 check's own message and error type. */
export const iamDenied = (errorType: string, message: string, headers?: Record<string, string>) =>
  gatewayResponse(SIGV4_TYPES[errorType] ?? "DEFAULT_4XX", 403, message, { "x-amzn-ErrorType": errorType, ...headers });
export const requestTooLarge = (headers?: Record<string, string>) => gatewayResponse("REQUEST_TOO_LARGE", 413, "Request Entity Too Large", headers);
/** What API Gateway answers when the function fails or returns something malformed. */
export const badGateway = (headers?: Record<string, string>) =>
  gatewayResponse("DEFAULT_5XX", 502, "Internal server error", { "x-amzn-ErrorType": "InternalServerErrorException", ...headers });
