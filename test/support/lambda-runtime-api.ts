// The Lambda service's side of one execution environment, for a function zip
// unpacked into a task root: a Runtime API on a loopback port (the four
// routes of https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html),
// and the runtime (lambda-bootstrap.mjs) started under the given Node with
// the environment Lambda defines and nothing of this process's.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import type { NodeCommand } from "./lambda-node.ts";

const BOOTSTRAP = new URL("./lambda-bootstrap.mjs", import.meta.url).pathname;
const PREFIX = "/2018-06-01/runtime";
/** Not Lambda's timeout: a bound that turns a hung emulated run into a failure with its output. */
const WATCHDOG_MS = 180_000;

export interface LambdaOptions {
  node: NodeCommand;
  taskRoot: string;
  /** _HANDLER, e.g. "index.handler". */
  handler: string;
  /** The reserved variables Lambda defines (lambda-env.ts) plus the function's own. */
  env: Record<string, string>;
  functionArn: string;
  timeoutSeconds: number;
}

export interface LambdaEnvironment {
  /** From spawning the runtime to its first GET /next: the cold start's Init Duration. */
  initMs: number;
  /** The runtime's User-Agent, naming the Node version and CPU the function ran on. */
  userAgent: string;
  /** Resolves with the handler's result; rejects with the error the runtime reported. */
  invoke(event: unknown): Promise<unknown>;
  /** What the function wrote to stdout and stderr (its log). */
  output(): string;
  stop(): Promise<void>;
}

interface Pending {
  id: string;
  event: unknown;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? null : JSON.parse(text);
}

function reported(kind: string, body: unknown): Error {
  const { errorType, errorMessage } = (body ?? {}) as { errorType?: string; errorMessage?: string };
  return Object.assign(new Error(`${kind}: ${errorType}: ${errorMessage}`), { errorType });
}

/** Starts the runtime and resolves once it has initialised and waits for its first event. */
export async function startLambda(options: LambdaOptions): Promise<LambdaEnvironment> {
  let waiting: ServerResponse | undefined;
  let queued: Pending | undefined;
  let current: Pending | undefined;
  let userAgent = "";
  let log = "";
  let ready: { resolve(): void; reject(e: Error): void } | undefined;
  const readyPromise = new Promise<void>((resolve, reject) => (ready = { resolve, reject }));

  function deliver(): void {
    if (waiting === undefined || queued === undefined) return;
    current = queued;
    queued = undefined;
    waiting.writeHead(200, {
      "Content-Type": "application/json",
      "Lambda-Runtime-Aws-Request-Id": current.id,
      "Lambda-Runtime-Deadline-Ms": String(Date.now() + options.timeoutSeconds * 1000),
      "Lambda-Runtime-Invoked-Function-Arn": options.functionArn,
      "Lambda-Runtime-Trace-Id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, "").slice(0, 24)};Sampled=0`,
    });
    waiting.end(JSON.stringify(current.event));
    waiting = undefined;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    userAgent = req.headers["user-agent"] ?? userAgent;
    const path = (req.url ?? "").startsWith(PREFIX) ? req.url!.slice(PREFIX.length) : "";
    const result = /^\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (req.method === "GET" && path === "/invocation/next") {
      waiting = res;
      ready?.resolve();
      return deliver();
    }
    if (req.method === "POST" && path === "/init/error") {
      ready?.reject(reported("init error", await bodyOf(req)));
    } else if (req.method === "POST" && result !== null && current !== undefined && result[1] === current.id) {
      const done = current;
      current = undefined;
      const body = await bodyOf(req);
      if (result[2] === "response") done.resolve(body);
      else done.reject(reported("function error", body));
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(202, { "Content-Type": "application/json" }).end('{"status":"OK"}');
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  const started = performance.now();
  const child = spawn(options.node.command, [...options.node.args, BOOTSTRAP], {
    cwd: options.taskRoot,
    env: { ...options.env, _HANDLER: options.handler, LAMBDA_TASK_ROOT: options.taskRoot, LAMBDA_RUNTIME_DIR: dirname(BOOTSTRAP), AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const append = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000));
  child.stdout.on("data", append);
  child.stderr.on("data", append);
  const exited = once(child, "exit").then(([code, signal]) => new Error(`the runtime exited (code ${code}, signal ${signal}):\n${log}`));
  const failOnExit = (reject: (e: Error) => void) => void exited.then(reject);
  failOnExit((e) => ready?.reject(e));

  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    server.closeAllConnections();
    server.close();
  }

  try {
    await withWatchdog(readyPromise, "initialising");
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${log}`, { cause: e });
  }
  const initMs = performance.now() - started;

  return {
    initMs,
    get userAgent() {
      return userAgent;
    },
    invoke(event) {
      const done = new Promise<unknown>((resolve, reject) => {
        queued = { id: randomUUID(), event, resolve, reject };
        failOnExit(reject);
      });
      deliver();
      return withWatchdog(done, "invoking");
    },
    output: () => log,
    stop,
  };
}

async function withWatchdog<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the runtime was still ${what} after ${WATCHDOG_MS / 1000} s`)), WATCHDOG_MS);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}
