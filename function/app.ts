// The Lambda's request dispatch: route the API Gateway event, map domain errors
// to their 4xx/5xx answers, add CORS headers, log one line. Built by a factory
// so tests and the local server can hand in their own store and log sink.
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import type { RuntimeSettings } from "../config/schema.ts";
import { getSize, MAX_INLINE_BYTES } from "./actions/get-size.ts";
import { listSizes } from "./actions/list-sizes.ts";
import { uploadImage } from "./actions/upload-image.ts";
import { ApiError } from "./errors.ts";
import { base64Length, header } from "./http/request.ts";
import { corsHeaders, errorResult } from "./http/response.ts";
import { writeRequestLog, type LogSink } from "./log.ts";
import type { ImageStore } from "./storage/image-store.ts";

export interface AppOptions {
  store: ImageStore;
  settings: RuntimeSettings;
  maxInlineBytes?: number;
  log?: LogSink;
}

export type Handler = (event: APIGatewayProxyEvent, context?: Partial<Context>) => Promise<APIGatewayProxyResult>;

type Outcome = APIGatewayProxyResult & { bytesIn?: number; bytesOut?: number };

/** The size of a request's body, for the log of a request that was refused before it was read. */
function requestBytes(event: APIGatewayProxyEvent | undefined): number {
  const body = typeof event?.body === "string" ? event.body : "";
  return event?.isBase64Encoded ? base64Length(body) : Buffer.byteLength(body);
}

export function createApp(options: AppOptions): Handler {
  const { store, settings } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const maxInlineBytes = options.maxInlineBytes ?? MAX_INLINE_BYTES;

  async function dispatch(event: APIGatewayProxyEvent, route: string): Promise<Outcome> {
    switch (route) {
      case "OPTIONS":
        return { statusCode: 204, headers: {}, body: "" };
      case "POST /images":
        return uploadImage(event, settings, store);
      case "GET /images/{id}":
        return listSizes(event, settings, store);
      case "GET /images/{id}/{size}":
        return getSize(event, settings, store, { maxInlineBytes });
      default:
        throw new ApiError("ROUTE_NOT_FOUND", `No route for ${event.httpMethod} ${event.resource ?? event.path}.`);
    }
  }

  return async function handler(event, context) {
    const started = performance.now();
    const method = typeof event?.httpMethod === "string" ? event.httpMethod : "?";
    const route = method === "OPTIONS" ? "OPTIONS" : `${method} ${event?.resource ?? "?"}`;
    let outcome: Outcome;
    let error: ApiError | undefined;
    let detail: string | undefined;
    try {
      outcome = await dispatch(event, route);
    } catch (e) {
      error = e instanceof ApiError ? e : new ApiError("INTERNAL_ERROR", "unexpected error", { cause: e });
      if (!error.expose) {
        const cause = error.cause as { name?: string; message?: string } | undefined;
        detail = `${error.message}${cause ? `: ${cause.name ?? "Error"}: ${cause.message ?? String(cause)}` : ""}`;
      }
      outcome = errorResult(error);
    }
    const { bytesIn, bytesOut, ...result } = outcome;
    result.headers = { ...result.headers, ...corsHeaders(event?.headers ? header(event, "origin") : undefined, settings.cors.origins) };
    writeRequestLog(log, {
      requestId: context?.awsRequestId ?? event?.requestContext?.requestId ?? "local",
      route,
      status: result.statusCode,
      durationMs: Math.round(performance.now() - started),
      bytesIn: bytesIn ?? requestBytes(event),
      bytesOut: bytesOut ?? (result.isBase64Encoded ? 0 : Buffer.byteLength(result.body ?? "")),
      ...(error === undefined ? {} : { errorCode: error.code }),
      ...(detail === undefined ? {} : { detail }),
    });
    return result;
  };
}
