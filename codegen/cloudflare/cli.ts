#!/usr/bin/env node
// The `sourdough-cloudflare` executable: runs the command with this process's arguments and console,
// and exits with its code. Everything else lives in run-cli.ts.
import { runCli } from "./run-cli.ts";

const code = await runCli(process.argv.slice(2), {
  cwd: process.cwd(),
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  env: process.env,
});
process.exit(code);
