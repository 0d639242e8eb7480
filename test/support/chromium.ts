// Headless Chromium for the browser tests: Debian's package, driven by
// playwright-core. Without it the browser tests are skipped with a loud
// warning, except in CI (CI=true), where browser.test.ts fails instead.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { inCi } from "./ci.ts";

export { inCi };

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// As the machine notes say: without the background-networking flags Chromium
// keeps trying to reach Google's hosts, which this closed network refuses.
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export const hasChromium = existsSync(CHROMIUM);

/** Why the browser tests do not run here (false: they do), with the warning printed once per file. */
export function chromiumSkip(): string | false {
  const reason = !hasChromium && !inCi ? `no Chromium at ${CHROMIUM}` : false;
  if (reason) {
    console.warn(
      [
        "",
        "!".repeat(78),
        `!!! SKIPPING the browser tests: ${reason}.`,
        "!!! Install it (Debian: apt-get install chromium) or set CHROMIUM_PATH.",
        "!!! In CI (CI=true) a missing Chromium fails these tests instead.",
        "!".repeat(78),
        "",
      ].join("\n"),
    );
  }
  return reason;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
