// Counts the sharp calls that read image bytes, process-wide: every sharp
// instance shares one prototype. `decodes` (any output or statistics) at zero
// proves a refusal came before any pixel was decoded; `count` adds header
// reads (metadata). Without timing anything.
import sharp from "sharp";

const DECODES = ["stats", "toBuffer", "toFile"] as const;
const METHODS = ["metadata", ...DECODES] as const;

export interface SharpCalls {
  /** Every call, header reads included. */
  readonly count: number;
  /** Calls that decode pixels. */
  readonly decodes: number;
  restore(): void;
}

export function countSharpCalls(): SharpCalls {
  const proto = Object.getPrototypeOf(sharp()) as Record<string, (...args: unknown[]) => unknown>;
  const saved = METHODS.map((name) => [name, proto[name]!] as const);
  const calls = { count: 0, decodes: 0 };
  for (const [name, original] of saved) {
    proto[name] = function (this: unknown, ...args: unknown[]) {
      calls.count += 1;
      if ((DECODES as readonly string[]).includes(name)) calls.decodes += 1;
      return original.apply(this, args);
    };
  }
  return {
    get count() {
      return calls.count;
    },
    get decodes() {
      return calls.decodes;
    },
    restore() {
      for (const [name, original] of saved) proto[name] = original;
    },
  };
}
