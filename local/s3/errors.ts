// The local S3's refusals, each with S3's code, HTTP status and message, and
// the extra elements S3 puts in its <Error> document. One class, so the
// server answers every refusal the same way (XML, or no body for HEAD).
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
export class S3Error extends Error {
  override readonly name = "S3Error";
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    /** Extra elements of the <Error> document, in order (Key, BucketName, ServerTime...). */
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const error = (code: string, status: number, message: string) => (details?: Record<string, string>) => new S3Error(code, status, message, details);

// Messages as S3 words them; the codes and statuses are those of the error list above.
export const accessDenied = error("AccessDenied", 403, "Access Denied");
export const signatureDoesNotMatch = error("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
export const invalidAccessKeyId = error("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.");
export const requestTimeTooSkewed = error("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large.");
export const headersNotSigned = error("AccessDenied", 403, "There were headers present in the request which were not signed");
export const missingDate = error("AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header");
export const requestExpired = error("AccessDenied", 403, "Request has expired");
export const notValidYet = error("AccessDenied", 403, "Request is not valid yet");
export const noSuchBucket = error("NoSuchBucket", 404, "The specified bucket does not exist");
export const noSuchKey = error("NoSuchKey", 404, "The specified key does not exist.");
export const noSuchVersion = error("NoSuchVersion", 404, "The specified version does not exist.");
export const bucketNotEmpty = error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty");
export const methodNotAllowed = error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.");
export const preconditionFailed = error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold");
export const missingContentLength = error("MissingContentLength", 411, "You must provide the Content-Length HTTP header.");
export const entityTooLarge = error("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size.");
export const incompleteBody = error("IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.");
export const malformedXml = error("MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema");
export const maxMessageLengthExceeded = error("MaxMessageLengthExceeded", 400, "Your request was too big.");
export const metadataTooLarge = error("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size.");
export const keyTooLong = error("KeyTooLongError", 400, "Your key is too long");
export const invalidBucketName = error("InvalidBucketName", 400, "The specified bucket is not valid.");
export const invalidUri = error("InvalidURI", 400, "Couldn't parse the specified URI.");
export const badDigest = error("BadDigest", 400, "The Content-MD5 or checksum value that you specified did not match what the server received.");
export const invalidDigest = error("InvalidDigest", 400, "The Content-MD5 or checksum value that you specified is not valid.");
export const contentSha256Mismatch = error("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.");
export const requestTimeout = error("RequestTimeout", 400, "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.");
export const requestHeaderSectionTooLarge = error("RequestHeaderSectionTooLarge", 400, "Your request header section exceeds the maximum allowed size.");
export const notImplemented = error("NotImplemented", 501, "A header you provided implies functionality that is not implemented.");
export const internalError = error("InternalError", 500, "We encountered an internal error. Please try again.");

export const invalidArgument = (message: string, details?: Record<string, string>) => new S3Error("InvalidArgument", 400, message, details);
export const invalidRequest = (message: string, details?: Record<string, string>) => new S3Error("InvalidRequest", 400, message, details);
export const badRequest = (message: string) => new S3Error("BadRequest", 400, message);
export const accessForbidden = (message: string, details?: Record<string, string>) => new S3Error("AccessForbidden", 403, message, details);
export const authorizationHeaderMalformed = (message: string, details?: Record<string, string>) =>
  new S3Error("AuthorizationHeaderMalformed", 400, `The authorization header is malformed; ${message}`, details);
export const authorizationQueryParametersError = (message: string) => new S3Error("AuthorizationQueryParametersError", 400, message);
