// Size limits of the wire: how large one call's encoded arguments or result may be (`maxCallBytes`)
// and how large a frame a reader accepts (`maxFrameBytes`). Limits are checked where the bytes are
// produced (caller, callee, frame writer); the reader's bound only stops peers that ignore them.
import { constants } from "node:buffer";
import { ErrorCode, SourdoughError } from "../errors.ts";

/** Cloudflare's limit: 32 MiB per RPC, arguments or result. */
export const DEFAULT_MAX_CALL_BYTES = 32 * 1024 * 1024;
/** Frames above this size are refused by readers unless configured otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Room a frame needs besides its payload (header, ids, class and method names): frame limit ≥ call limit + this. */
export const FRAME_HEADROOM_BYTES = 64 * 1024;
/** Cap'n Proto counts a byte list in 29 bits, so one `Data` field (a payload) holds at most this. */
export const MAX_DATA_BYTES = 2 ** 29 - 1;
/** The largest frame anything here can hold: a Node Buffer, and a 32-bit segment size in words. */
export const MAX_FRAME_BYTES_LIMIT = Math.min(constants.MAX_LENGTH, 8 + (2 ** 32 - 1) * 8);

export interface WireLimits {
  /** Largest encoded arguments or result of one call. */
  maxCallBytes: number;
  /** Largest frame a reader accepts and a writer produces. */
  maxFrameBytes: number;
}

/**
 * Fills in defaults and checks the pair: the frame limit follows a raised call limit unless given.
 * Throws ERR_BAD_OPTIONS naming the option.
 */
export function resolveWireLimits(options: { maxCallBytes?: number | undefined; maxFrameBytes?: number | undefined }, where = "ClusterCoordinator"): WireLimits {
  const maxCallBytes = options.maxCallBytes ?? DEFAULT_MAX_CALL_BYTES;
  if (!Number.isSafeInteger(maxCallBytes) || maxCallBytes < 1 || maxCallBytes > MAX_DATA_BYTES) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `${where}: maxCallBytes must be an integer from 1 to ${MAX_DATA_BYTES} (512 MiB − 1, the most one Cap'n Proto Data field holds), got ${String(maxCallBytes)}. Pass a smaller limit, and larger values in several calls.`);
  }
  const maxFrameBytes = options.maxFrameBytes ?? Math.max(DEFAULT_MAX_FRAME_BYTES, maxCallBytes + FRAME_HEADROOM_BYTES);
  const least = maxCallBytes + FRAME_HEADROOM_BYTES;
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < least || maxFrameBytes > MAX_FRAME_BYTES_LIMIT) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `${where}: maxFrameBytes must be an integer from maxCallBytes + ${FRAME_HEADROOM_BYTES} (${least}) to ${MAX_FRAME_BYTES_LIMIT}, got ${String(maxFrameBytes)}. Leave it out to follow maxCallBytes, or raise it.`);
  }
  return { maxCallBytes, maxFrameBytes };
}

/** "40000000 bytes (38.1 MiB)": exact for the reader who compares, rounded for the one who skims. */
export function describeBytes(n: number): string {
  const mib = n / (1024 * 1024);
  const rounded = mib >= 1 ? `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes (${rounded})`;
}

/**
 * ERR_TOO_LARGE for one call: `what` is "arguments" or "result". Says the method, the size, the
 * limit and the option that raises it.
 */
export function callTooLarge(where: string, what: "arguments" | "result" | "request" | "response", size: number, limit: number): SourdoughError {
  const fix = what === "arguments" || what === "request" ? "Send less per call" : "Return less per call";
  const raise = limit < MAX_DATA_BYTES ? ", or raise the coordinator's maxCallBytes" : "";
  const verb = what === "arguments" ? "encode" : "encodes";
  return new SourdoughError(ErrorCode.TOO_LARGE, `${where}: the ${what} ${verb} to ${describeBytes(size)}, over the limit of ${describeBytes(limit)} per call (maxCallBytes; Cloudflare allows 32 MiB per RPC). ${fix} (split it, or store it and pass a key)${raise}.`);
}

/**
 * ERR_TOO_LARGE for a frame the writer would produce over the reader's limit. The message starts in
 * lower case: whoever knows the call prefixes `Class.method: `.
 */
export function frameTooLarge(size: number, limit: number): SourdoughError {
  return new SourdoughError(ErrorCode.TOO_LARGE, `the frame would be ${describeBytes(size)}, over the limit of ${describeBytes(limit)} per frame (maxFrameBytes). Send less per call, or raise maxFrameBytes`);
}
