// What makes a reprocess run resumable: one JSON line per original finished
// (made, up to date, refused, deleted since), appended as it finishes, after a
// first line naming the bucket, the function and the settings it was run
// with. A rerun skips what the file lists; a file made for other settings is
// set aside and the run starts over. A run that finishes without a failure
// removes it, so the next run checks everything again. Appending lines keeps
// it correct when the process is stopped at any point: a torn last line is
// ignored, and that original is done again.
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface StateHeader {
  bucket: string;
  functionName: string;
  /** A hash of the settings the run was made with (config.json's sizes and output). */
  settings: string;
}

export const settingsHash = (settings: unknown) => createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 16);

export interface RunState {
  /** Ids finished by an earlier run with these settings, with what happened to them. */
  done: Map<string, string>;
  /** Why an existing file was not resumed, if one was set aside. */
  discarded?: string;
  record(id: string, action: string): void;
  /** The run finished: nothing to resume. */
  finish(): void;
}

export function openState(path: string, header: StateHeader): RunState {
  const done = new Map<string, string>();
  let discarded: string | undefined;
  if (existsSync(path)) {
    const [first, ...lines] = readFileSync(path, "utf8").split("\n");
    let old: Partial<StateHeader> = {};
    try {
      old = JSON.parse(first ?? "") as Partial<StateHeader>;
    } catch {
      // unreadable: set aside below
    }
    if (old.bucket === header.bucket && old.functionName === header.functionName && old.settings === header.settings) {
      for (const line of lines) {
        try {
          const { id, action } = JSON.parse(line) as { id?: unknown; action?: unknown };
          if (typeof id === "string" && typeof action === "string") done.set(id, action);
        } catch {
          // a line torn by a stop: that original is done again
        }
      }
    } else {
      discarded = `${path} was made for other settings or another stack: kept as ${path}.old, starting over`;
      renameSync(path, `${path}.old`);
    }
  }
  if (done.size === 0) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(header)}\n`);
  }
  return {
    done,
    ...(discarded === undefined ? {} : { discarded }),
    record(id, action) {
      appendFileSync(path, `${JSON.stringify({ id, action })}\n`);
    },
    finish() {
      rmSync(path, { force: true });
    },
  };
}
