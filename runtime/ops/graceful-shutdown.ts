// serve()'s signal handling: the first SIGINT or SIGTERM drains (stop accepting, let requests in
// flight finish up to shutdownGraceMs, commit, stop hosts, remove the run directory) and exits 0; a
// second one exits at once. serve() is a process entry point in this respect: with
// handleSignals: false it leaves signals (and process.exit) to the application.
import type { Logger } from "./logger.ts";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
const SIGNAL_NUMBERS: Record<(typeof SIGNALS)[number], number> = { SIGINT: 2, SIGTERM: 15 };

/** Installs the handlers; returns the function that removes them. */
export function handleShutdownSignals(shutdown: (signal: string) => Promise<void>, logger: Logger): () => void {
  let draining = false;
  const onSignal = (signal: (typeof SIGNALS)[number]) => {
    if (draining) {
      logger.warn(`${signal} again: exiting now, without waiting for requests in flight`);
      process.exit(128 + SIGNAL_NUMBERS[signal]);
    }
    draining = true;
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown after ${signal} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        process.exit(1);
      },
    );
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return () => {
    for (const s of SIGNALS) process.off(s, onSignal);
  };
}
