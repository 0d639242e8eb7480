// Runs one of the project's CLIs (deploy, teardown, keys, reprocess, npm
// start) as a user does, in a child process from the repository root, with
// moto's credentials and no colour, and collects what it printed. The
// timeout turns a CLI that should have exited into a failure, not a hang.
import { spawn } from "node:child_process";
import { MOTO_CREDENTIALS } from "./moto.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before the child is killed (default: none). */
  timeout?: number;
  onSpawn?: (pid: number) => void;
}

/** Any command, from ROOT. */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        NO_COLOR: "1",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.timeout ? { timeout: options.timeout } : {}),
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A TypeScript CLI of the project (e.g. "deploy/index.ts") under tsx. */
export const runCli = (script: string, args: string[], options: RunOptions = {}): Promise<Ran> => runCommand(process.execPath, ["--import", "tsx", script, ...args], options);
