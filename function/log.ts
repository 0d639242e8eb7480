// One structured JSON line per request. Never the API key, other headers, or
// image bytes: only what an operator needs to follow a request.

export interface RequestLog {
  requestId: string;
  route: string;
  status: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  errorCode?: string;
  /** Internal detail of a 5xx (never sent to the caller). */
  detail?: string;
}

export type LogSink = (line: string) => void;

export function writeRequestLog(sink: LogSink, entry: RequestLog): void {
  sink(JSON.stringify({ level: entry.status >= 500 ? "error" : "info", msg: "request", ...entry }));
}
