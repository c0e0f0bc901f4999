// Every error sourdough raises itself: one base class with a stable `code`, plus the codes, listed once.
// Errors thrown by user code keep their own name and message; see rpc/remote-error.ts for the wire side.

/** The error codes sourdough raises. Messages are API too: they say where, what, and how to fix it. */
export const ErrorCode = {
  /** An id string is not 64 lowercase hex characters, or belongs to another namespace. */
  BAD_ID: "ERR_BAD_ID",
  /** A class, binding or namespace name is not usable (not an identifier, unknown, not exported). */
  BAD_CLASS: "ERR_BAD_CLASS",
  /** The called method does not exist or may not be called over RPC. */
  METHOD_NOT_FOUND: "ERR_METHOD_NOT_FOUND",
  /** A value cannot be copied across the RPC boundary (function, symbol, ...). */
  UNSUPPORTED_TYPE: "ERR_UNSUPPORTED_TYPE",
  /** A frame was truncated, oversized or malformed; the connection that carried it is closed. */
  PROTOCOL: "ERR_PROTOCOL",
  /**
   * A call's encoded arguments or result are over `maxCallBytes` (default 32 MiB, Cloudflare's), or
   * larger than the wire can carry; only that call fails, refused where the bytes were produced.
   */
  TOO_LARGE: "ERR_TOO_LARGE",
  /** The host or isolate owning the object died or could not be reached; the call may be retried. */
  HOST_UNAVAILABLE: "ERR_HOST_UNAVAILABLE",
  /** A host process failed to start; the message carries its stderr. */
  HOST_START: "ERR_HOST_START",
  /** The coordinator, namespace or connection was closed before the call completed. */
  CLOSED: "ERR_CLOSED",
  /** A storage call was refused (bad SQL for this API, too many keys, reserved table). */
  STORAGE: "ERR_STORAGE",
  /** Another live coordinator owns the storageDir (its lock file names the pid). */
  STORAGE_IN_USE: "ERR_STORAGE_IN_USE",
  /** Options passed to a sourdough API are invalid. */
  BAD_OPTIONS: "ERR_BAD_OPTIONS",
  /** An event ran on the CPU longer than `cpuLimitMs` without yielding; its isolate was replaced. */
  CPU_LIMIT: "ERR_CPU_LIMIT",
  /** An isolate ran out of memory (`isolateHeapMb`) and was replaced. */
  MEMORY_LIMIT: "ERR_MEMORY_LIMIT",
  /** The call's deadline (`callTimeoutMs` or a per-call timeout) passed before it answered. */
  DEADLINE_EXCEEDED: "ERR_DEADLINE_EXCEEDED",
  /** The caller aborted the call through its AbortSignal. */
  ABORTED: "ERR_ABORTED",
  /** The object has too many undelivered events; retry later (Cloudflare: "Durable Object is overloaded"). */
  OVERLOADED: "ERR_OVERLOADED",
  /** The object was reset (its instance discarded) while this event waited or ran; retry the call. */
  OBJECT_RESET: "ERR_OBJECT_RESET",
  /**
   * A function or RpcTarget passed by reference was called after it was released (disposed, or its
   * call completed without dup()), after the connection that carried it closed, or under an export
   * id the peer never handed out.
   */
  REFERENCE_RELEASED: "ERR_REFERENCE_RELEASED",
  /** A connection's export table (functions and RpcTargets passed by reference) is full. */
  TOO_MANY_REFERENCES: "ERR_TOO_MANY_REFERENCES",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface SourdoughErrorOptions {
  cause?: unknown;
  /** True when the same call can be retried as is (Cloudflare's `err.retryable`). */
  retryable?: boolean;
}

/** Base class of every error sourdough raises. `code` is stable; `retryable` says whether a retry may help. */
export class SourdoughError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options: SourdoughErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SourdoughError";
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Renders a value for an error message: short, unambiguous, never throws. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "symbol") return value.toString();
  if (value === null || typeof value !== "object") return String(value);
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== "Object" ? `a ${ctor}` : "an object";
}
