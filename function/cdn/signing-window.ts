// With the CDN on, a signed public URL must be the same for everyone who lists
// the image during a while, or each listing would be a new cache entry (the
// expiry and signature are in the cache key, function/cdn/cache-key.ts). So
// the expiry is rounded UP to the end of a window: every listing in the same
// window hands out the identical URL, valid for between expiresSeconds and
// expiresSeconds + window. The window is at most an hour and a quarter of the
// configured life, so a URL never lives much longer than configured.

/** The signing window in seconds: min(3600, floor(expiresSeconds / 4)); publicUrls.expiresSeconds is at least 60. */
export function signingWindow(expiresSeconds: number): number {
  return Math.max(1, Math.min(3600, Math.floor(expiresSeconds / 4)));
}

/** The expiry (unix seconds) of a URL signed at nowSeconds: now + expiresSeconds, rounded up to a window boundary. */
export function windowedExpiry(nowSeconds: number, expiresSeconds: number): number {
  const window = signingWindow(expiresSeconds);
  return Math.ceil((nowSeconds + expiresSeconds) / window) * window;
}
