// Error answers in each AWS protocol's own shape, so an SDK client parses them
// exactly as it parses the real service's: the code becomes the error's name,
// the message its message. Used by the fault proxy and the AWS rules.
export interface RespondFault {
  kind: "respond";
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

const xmlText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** S3 (REST-XML): `<Error><Code>SlowDown</Code>...`. */
export function s3Error(status: number, code: string, message = code): RespondFault {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlText(message)}</Message><RequestId>FAULT0000000000</RequestId><HostId>fault-proxy</HostId></Error>`;
  return { kind: "respond", status, body, headers: { "Content-Type": "application/xml" } };
}

/** IAM and STS (awsQuery), CloudFront and Route 53 (REST-XML): `<ErrorResponse><Error><Code>Throttling</Code>...`. */
export function queryError(status: number, code: string, message = code): RespondFault {
  const body = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>${status >= 500 ? "Receiver" : "Sender"}</Type><Code>${code}</Code><Message>${xmlText(message)}</Message></Error><RequestId>fault-0000</RequestId></ErrorResponse>`;
  return { kind: "respond", status, body, headers: { "Content-Type": "text/xml" } };
}

/** KMS, CloudWatch Logs, CloudTrail (awsJson1_1): `{"__type": "ThrottlingException"}`. */
export function jsonError(status: number, code: string, message = code): RespondFault {
  return { kind: "respond", status, body: JSON.stringify({ __type: code, message }), headers: { "Content-Type": "application/x-amz-json-1.1" } };
}

/** Lambda and API Gateway (restJson1): the code in x-amzn-ErrorType. */
export function restJsonError(status: number, code: string, message = code): RespondFault {
  return {
    kind: "respond",
    status,
    body: JSON.stringify({ message, Type: status >= 500 ? "Service" : "User" }),
    headers: { "Content-Type": "application/json", "x-amzn-ErrorType": code },
  };
}

/** An error in the protocol of the service a request is for. */
export function serviceError(service: string, status: number, code: string, message = code): RespondFault {
  if (service === "s3") return s3Error(status, code, message);
  // CloudFront and Route 53 are REST-XML with the same <ErrorResponse><Error> document as awsQuery.
  if (service === "iam" || service === "sts" || service === "cloudfront" || service === "route53") return queryError(status, code, message);
  if (service === "lambda" || service === "apigateway") return restJsonError(status, code, message);
  return jsonError(status, code, message);
}
