// An answer no AWS endpoint gives: a 404 page that is not the service's JSON
// or XML, so the SDK cannot parse it. Emulators answer this way for an API
// they do not implement (a plain moto_server has no Lambda GetAccountSettings
// and no CloudFront cache policies or functions). Deploy then treats what
// that API would hold as unknown or empty rather than stopping, where that is
// safe: never for a resource the configuration asks for.

/** Whether the error (or the error it wraps) is an endpoint's 404 page for an API it lacks. */
export function endpointLacksApi(e: unknown): boolean {
  for (let err = e as { $response?: { statusCode?: number }; name?: string; message?: string; cause?: unknown } | undefined, depth = 0; err !== undefined && depth < 3; err = err.cause as typeof err, depth++) {
    const unparsable = err.name === "SyntaxError" || /XML parse error|Deserialization error/.test(err.message ?? "");
    if (err.$response?.statusCode === 404 && unparsable) return true;
  }
  return false;
}
