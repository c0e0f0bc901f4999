// The runtime's log: lifecycle events (host and isolate start, exit with cause, restart, back after
// N ms), object resets, uncaught worker.fetch errors. Anything with info/warn/error can receive it
// (console, pino, winston); the default writes concise human lines, or JSON lines with
// logFormat: "json", through the coordinator's `output` (stderr unless redirected). A tiny writer
// rather than pino: these are a handful of lines per lifecycle event, never per call, so pino's
// speed buys nothing, and a user who wants pino passes their own instance as `logger`.
import { ErrorCode, SourdoughError } from "../errors.ts";

/** Where sourdough's own log lines go. `fields` carries structured detail (host, isolate, pid, ms...). */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type LogFields = Record<string, string | number | boolean | undefined>;
export type LogLevel = "info" | "warn" | "error";
export type LogFormat = "text" | "json";

/** The default logger: one line per entry, written with `write`. */
export function createLogger(format: LogFormat, write: (line: string) => void): Logger {
  const line = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (format === "json") write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`);
    else write(`sourdough: ${message}\n`);
  };
  return { info: line("info"), warn: line("warn"), error: line("error") };
}

/** Checks a user-supplied logger (it must have info, warn and error functions). */
export function checkLogger(value: unknown, where: string): Logger {
  const l = value as Partial<Record<LogLevel, unknown>> | null;
  const missing = (["info", "warn", "error"] as const).filter((k) => typeof l?.[k] !== "function");
  if (l === null || typeof l !== "object" || missing.length > 0) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `${where}: logger must be an object with info, warn and error functions (console or a pino logger will do); missing ${missing.join(", ") || "all"}.`);
  }
  return l as Logger;
}

/** Logs `message` at `level` (a level name from a message that crossed a process). */
export function logAt(logger: Logger, level: unknown, message: string, fields?: LogFields): void {
  if (level === "warn") logger.warn(message, fields);
  else if (level === "error") logger.error(message, fields);
  else logger.info(message, fields);
}
