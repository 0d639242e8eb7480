// The API's routes, in one table read by the handler, the deploy (which builds
// API Gateway resources and methods from it) and the local server (which
// enforces the API key the same way), so the three cannot disagree.

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** API Gateway resource path, with {param} placeholders. */
  resource: string;
  /**
   * "private": only callers with credentials (an API key, or a SigV4 signature
   * in "iam" mode); "public": anyone, the handler itself checks a signed URL.
   */
  access: "private" | "public";
  /**
   * In "jwt" mode with scopes configured (config jwt.scopes), the scope a
   * private route's token must carry: "read" routes only look, "write" routes
   * store, change or delete.
   */
  scope?: "read" | "write";
  summary: string;
}

export const ROUTES = [
  { method: "POST", resource: "/images", access: "private", scope: "write", summary: "Upload an original image" },
  { method: "GET", resource: "/images/{id}", access: "private", scope: "read", summary: "Create missing sizes and list them" },
  { method: "GET", resource: "/images/{id}/{size}", access: "private", scope: "read", summary: "Fetch one size's bytes" },
  { method: "GET", resource: "/public/images/{id}/{size}", access: "public", summary: "Fetch one size's bytes through a signed URL, without credentials" },
  { method: "POST", resource: "/uploads", access: "private", scope: "write", summary: "Get a presigned S3 URL to PUT an original too large for POST /images" },
  { method: "DELETE", resource: "/images/{id}", access: "private", scope: "write", summary: "Delete an image and all its sizes" },
  { method: "PUT", resource: "/images/{id}/focus", access: "private", scope: "write", summary: "Set the point every cover crop of the image keeps in frame" },
  { method: "DELETE", resource: "/images/{id}/focus", access: "private", scope: "write", summary: "Clear the image's focal point: cover crops use each size's position again" },
] as const satisfies readonly Route[];

export type AuthMode = "apiKey" | "iam" | "jwt";

/** API Gateway's authorization types this API uses: "CUSTOM" is the JWT Lambda authorizer, "COGNITO_USER_POOLS" its stand-in for a Cognito issuer. */
export type AuthorizationType = "NONE" | "AWS_IAM" | "CUSTOM" | "COGNITO_USER_POOLS";

/** How API Gateway guards a route's method, for the configured auth mode. OPTIONS is never guarded. */
export function methodAuth(route: Pick<Route, "access">, mode: AuthMode): { apiKeyRequired: boolean; authorizationType: AuthorizationType } {
  if (route.access === "public") return { apiKeyRequired: false, authorizationType: "NONE" };
  if (mode === "iam") return { apiKeyRequired: false, authorizationType: "AWS_IAM" };
  // A bearer token proves who calls; an API key in a browser app would be public anyway.
  if (mode === "jwt") return { apiKeyRequired: false, authorizationType: "CUSTOM" };
  return { apiKeyRequired: true, authorizationType: "NONE" };
}

/** The route's key, "METHOD /resource", as the handler's action table and the authorizer's policy name it. */
export const routeKey = (route: Pick<Route, "method" | "resource">): RouteKey => `${route.method} ${route.resource}` as RouteKey;

/** "METHOD /resource" of each route of the table (and of no other method/resource pair). */
export type RouteKey = (typeof ROUTES)[number] extends infer R ? (R extends { method: infer M extends string; resource: infer P extends string } ? `${M} ${P}` : never) : never;

/**
 * API Gateway's binary media types for this API. With "*∕*" every request body
 * reaches Lambda base64-encoded (the handler decodes JSON too), and a base64
 * response is turned back into bytes whenever the request's Accept matches,
 * which "*∕*" always does: curl gets image bytes, and JSON answers (not base64)
 * stay JSON.
 */
export const BINARY_MEDIA_TYPES = ["*/*"] as const;

/** API Gateway's rule: does a media type match one of the binary media types? */
export function isBinaryMediaType(mediaType: string | undefined, types: readonly string[] = BINARY_MEDIA_TYPES): boolean {
  if (mediaType === undefined || mediaType === "") return false;
  const [type = "", subtype = ""] = mediaType.split(";")[0]!.trim().toLowerCase().split("/");
  return types.some((t) => {
    const [tt, ts] = t.toLowerCase().split("/");
    return (tt === "*" || tt === type) && (ts === "*" || ts === subtype);
  });
}

/**
 * Finds the route for a method and path, with its path parameters, as API
 * Gateway does before invoking the function (which then gets `resource` and
 * `pathParameters`). Segments are URL-decoded like API Gateway's parameters.
 */
export function matchRoute(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  const segments = path.split("/").filter((s) => s !== "");
  for (const route of ROUTES as readonly Route[]) {
    if (route.method !== method) continue;
    const parts = route.resource.split("/").filter((s) => s !== "");
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const ok = parts.every((part, i) => {
      const seg = segments[i]!;
      if (!part.startsWith("{")) return part === seg;
      try {
        params[part.slice(1, -1)] = decodeURIComponent(seg);
      } catch {
        params[part.slice(1, -1)] = seg;
      }
      return true;
    });
    if (ok) return { route, params };
  }
  return undefined;
}
