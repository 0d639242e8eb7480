// PLACEHOLDER until function/cdn/edge-function.ts lands on main (another
// helper builds it, with its tests); the lead swaps this import for that one.
// A CloudFront Functions viewer-request handler that leaves one of three
// Accept classes, so a URL has at most three cache entries: image/avif, else
// image/webp (listed with q > 0), else */*.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-20.html
export const EDGE_FUNCTION_RUNTIME = "cloudfront-js-2.0";

export const EDGE_FUNCTION_CODE = `function listed(accept, type) {
  var parts = accept.split(",");
  for (var i = 0; i < parts.length; i++) {
    var fields = parts[i].split(";");
    if (fields[0].trim().toLowerCase() !== type) continue;
    var q = 1;
    for (var j = 1; j < fields.length; j++) {
      var kv = fields[j].split("=");
      if (kv[0].trim().toLowerCase() === "q") q = parseFloat(kv[1]);
    }
    if (q > 0) return true;
  }
  return false;
}
function handler(event) {
  var request = event.request;
  var header = request.headers["accept"];
  var accept = header ? header.value : "";
  var value = listed(accept, "image/avif") ? "image/avif" : listed(accept, "image/webp") ? "image/webp" : "*/*";
  request.headers["accept"] = { value: value };
  return request;
}
`;
