// The CloudFront Function (viewer request) in front of the public route: it
// rewrites the viewer's Accept header to one of three classes before CloudFront
// looks in its cache, so each URL has at most three cache entries, and "auto"
// sizes still get the format negotiateFormat (function/variants.ts) would pick
// for the original header. Deploy uploads exactly this string; the edge test
// runs exactly this string.
//
// Written for the CloudFront Functions runtime, not for Node:
// - ES 5.1 statements only (`var`, no `const`/`let`: runtime 1.0 lacks them and
//   2.0 gains nothing here), no timers, no network, no `require` at all.
//   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-features.html
//   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-function-restrictions.html
// - The event: `event.request.headers` maps each lowercase header name to
//   `{ value }` (repeated headers add `multiValue`); a viewer-request function
//   returns the request to let it go on.
//   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html
// - At most 10 KB of code (the "Maximum size of a function" quota).
//   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-functions

/** The runtime deploy creates the function with (CreateFunction FunctionConfig.Runtime). */
export const EDGE_FUNCTION_RUNTIME = "cloudfront-js-2.0";

/** The three classes the edge leaves in the Accept header: the cache key's only header. */
export const ACCEPT_CLASSES = ["image/avif", "image/webp", "*/*"] as const;

export const EDGE_FUNCTION_CODE = `// imgapi: Accept -> one of image/avif, image/webp, */* (the cache key's only header).
// Mirrors negotiateFormat in function/variants.ts: a type counts when listed with q > 0;
// wildcards (image/*, */*) do not count.
function acceptClass(header) {
  var accepted = {};
  var ranges = header.split(",");
  for (var i = 0; i < ranges.length; i++) {
    var parts = ranges[i].split(";");
    var type = parts[0].trim().toLowerCase();
    var ok = true;
    for (var j = 1; j < parts.length; j++) {
      var param = parts[j].trim().toLowerCase();
      if (param.indexOf("q=") === 0) {
        ok = Number(param.slice(2)) > 0;
        break;
      }
    }
    if (ok) accepted[type] = true;
  }
  if (accepted["image/avif"]) return "image/avif";
  if (accepted["image/webp"]) return "image/webp";
  return "*/*";
}

function handler(event) {
  var request = event.request;
  var header = request.headers["accept"];
  var text = "";
  if (header) {
    // Repeated Accept headers are one list (RFC 9110 5.3): join them all.
    if (header.multiValue) {
      var values = [];
      for (var k = 0; k < header.multiValue.length; k++) values.push(header.multiValue[k].value);
      text = values.join(",");
    } else {
      text = header.value;
    }
  }
  request.headers["accept"] = { value: acceptClass(text) };
  return request;
}
`;
