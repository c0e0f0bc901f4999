// Errors across the wire: a thrown value becomes (name, message, code, stack, retryable) and comes back
// as an Error of the same name and message, with `code`, `retryable`, `remote: true` and the remote stack.
import { ErrorCode, SourdoughError } from "../errors.ts";

export interface WireError {
  name: string;
  message: string;
  code: string | undefined;
  stack: string | undefined;
  retryable: boolean;
}

export function errorToWire(thrown: unknown): WireError {
  if (thrown instanceof Error) {
    const { code, retryable } = thrown as { code?: unknown; retryable?: unknown };
    return {
      name: thrown.name,
      message: thrown.message,
      code: typeof code === "string" ? code : typeof code === "number" ? String(code) : undefined,
      stack: thrown.stack,
      retryable: retryable === true,
    };
  }
  return { name: "Error", message: `non-Error value thrown: ${String(thrown)}`, code: undefined, stack: undefined, retryable: false };
}

const BUILTIN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

// Names a SourdoughError may carry (DataCloneError and AbortError mirror workerd's and the DOM's).
const SOURDOUGH_NAMES = new Set(["SourdoughError", "DataCloneError", "AbortError"]);
const SOURDOUGH_CODES = new Set<string>(Object.values(ErrorCode));

/** An error raised in another process or isolate. `remoteStack` is the stack where it was thrown. */
export interface RemoteErrorFields {
  code?: string;
  retryable: boolean;
  remote: true;
  remoteStack?: string;
}

export function errorFromWire(wire: WireError): Error & RemoteErrorFields {
  let error: Error;
  if (wire.code !== undefined && SOURDOUGH_NAMES.has(wire.name) && SOURDOUGH_CODES.has(wire.code)) {
    error = new SourdoughError(wire.code as ErrorCode, wire.message, { retryable: wire.retryable });
    error.name = wire.name;
  } else {
    const Ctor = BUILTIN[wire.name] ?? Error;
    error = new Ctor(wire.message);
    if (error.name !== wire.name) {
      Object.defineProperty(error, "name", { value: wire.name, writable: true, configurable: true, enumerable: false });
    }
    if (wire.code !== undefined) Object.assign(error, { code: wire.code });
    Object.assign(error, { retryable: wire.retryable });
  }
  Object.assign(error, { remote: true });
  if (wire.stack !== undefined) {
    Object.defineProperty(error, "remoteStack", { value: wire.stack, writable: true, configurable: true, enumerable: false });
    const local = (error.stack ?? "").split("\n").slice(1).join("\n");
    error.stack = `${wire.stack}\n    --- called over sourdough RPC from ---\n${local}`;
  }
  return error as Error & RemoteErrorFields;
}
