#!/usr/bin/env node
// The `sourdough-gen` executable: runs the command with this process's arguments and console, and
// exits with its code. Everything else lives in run-cli.ts.
import { runCli } from "./run-cli.ts";

const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
process.once("SIGTERM", () => stop.abort());
const code = await runCli(process.argv.slice(2), {
  cwd: process.cwd(),
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  signal: stop.signal,
});
process.exit(code);
