// Headless Chromium for browser tests: Debian's `chromium` (/usr/bin/chromium, installed by .ci/run)
// driven by playwright-core. Playwright's own browser download cannot work on this network, so the
// only browser used is the system one; where it is missing, `launchChromium()` says why in one line
// and the test skips (`describe.skipIf(browser.skip)`), never passes silently.
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";

/** Where the system browser is looked for; SOURDOUGH_CHROMIUM overrides. */
export const CHROMIUM_PATH = process.env.SOURDOUGH_CHROMIUM ?? "/usr/bin/chromium";

/** Why browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  if (!existsSync(CHROMIUM_PATH)) {
    return `browser tests skipped: no Chromium at ${CHROMIUM_PATH} (Debian: apt-get install -y chromium; or set SOURDOUGH_CHROMIUM)`;
  }
  return undefined;
}

export interface LaunchedBrowser {
  browser: Browser;
  /** Closes the browser (playwright removes the fresh profile it made). Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts headless Chromium (playwright gives it a fresh temporary profile) with the flags this closed network needs (without the
 * background-networking flags Chromium keeps dialling Google and logging refused connections).
 */
export async function launchChromium(): Promise<LaunchedBrowser> {
  const reason = browserSkipReason();
  if (reason !== undefined) throw new Error(reason);
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  let closed: Promise<void> | undefined;
  return {
    browser,
    close() {
      closed ??= browser.close();
      return closed;
    },
  };
}
