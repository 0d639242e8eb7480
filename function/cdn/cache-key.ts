// What the CDN's cache key holds, in one place: deploy builds the cache policy
// from it, and the edge test plays it. Exactly what changes the bytes: the
// path (image and size), the signed URL's expiry and signature (a URL is only
// served to a request that carries it), and the Accept class the edge
// function leaves ("auto" sizes differ per class). Nothing else: no cookies,
// no other header, no other query string.
export const CDN_CACHE_KEY = {
  queryStrings: ["expires", "sig"],
  headers: ["accept"],
} as const;
