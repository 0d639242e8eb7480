// Every error the API can answer, each with a stable code clients can rely on.
// Only 4xx messages reach the caller (they describe the caller's request); 5xx
// answers carry a generic message and the detail goes to the log.

export type ErrorCode =
  | "INVALID_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "INVALID_ID"
  | "INVALID_CONTENT_TYPE"
  | "UNKNOWN_SIZE"
  | "INVALID_SIGNATURE"
  | "URL_EXPIRED"
  | "PUBLIC_URLS_DISABLED"
  | "CDN_ONLY"
  | "IMAGE_NOT_FOUND"
  | "ROUTE_NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_IMAGE_TYPE"
  | "UNREADABLE_IMAGE"
  | "TOO_MANY_PIXELS"
  | "TOO_MANY_FRAMES"
  | "IMAGE_TOO_COMPLEX"
  | "DECODE_TIMEOUT"
  | "STORAGE_UNAVAILABLE"
  | "STORAGE_ERROR"
  | "INTERNAL_ERROR";

export const ERROR_STATUS: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  INVALID_ID: 400,
  UNKNOWN_SIZE: 400,
  INVALID_CONTENT_TYPE: 400,
  // auth "jwt": no caller identity reached the function, or its token lacks the route's scope
  // (the authorizer refuses both first; the function checks again).
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  // A signed public URL that was altered, has expired, or cannot be checked.
  INVALID_SIGNATURE: 403,
  URL_EXPIRED: 403,
  PUBLIC_URLS_DISABLED: 403,
  // With the CDN on, the public route came around it (no origin secret): function/cdn/origin-guard.ts.
  CDN_ONLY: 403,
  IMAGE_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_IMAGE_TYPE: 415,
  UNREADABLE_IMAGE: 415,
  TOO_MANY_PIXELS: 422,
  TOO_MANY_FRAMES: 422,
  // Structure that makes decoding cost far more than its pixels (image/structure.ts).
  IMAGE_TOO_COMPLEX: 422,
  // Decoding and encoding ran past input.maxDecodeSeconds (image/budget.ts).
  DECODE_TIMEOUT: 422,
  STORAGE_UNAVAILABLE: 503,
  STORAGE_ERROR: 502,
  INTERNAL_ERROR: 500,
};

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  retryAfter?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfter?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = ERROR_STATUS[code];
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }

  /** 4xx messages describe the caller's own request and are safe to show. */
  get expose(): boolean {
    return this.status < 500;
  }

  /** The message a caller may see: never internals (bucket names, stack traces) on 5xx. */
  get publicMessage(): string {
    if (this.expose) return this.message;
    if (this.code === "STORAGE_UNAVAILABLE") return "Storage is busy. Retry after the number of seconds in Retry-After.";
    if (this.code === "STORAGE_ERROR") return "Storage refused the request. The operator should check the function's logs.";
    return "Internal error. The operator should check the function's logs.";
  }
}
