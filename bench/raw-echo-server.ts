/**
 * Child entry of the raw Unix-domain-socket echo baseline (see ./raw-echo.ts).
 *
 *   node --import tsx bench/raw-echo-server.ts <socketPath>
 *
 * Listens on <socketPath>, writes the line "ready\n" to stdout once listening, and
 * echoes length-prefixed frames (4-byte little-endian payload length + payload) back
 * unchanged, in order, on the connection they came from.
 *
 * - Frames are parsed properly: a frame may be split across `data` chunks, and a chunk
 *   may hold many frames; only complete frames are echoed, the tail is kept for later.
 * - Replies are batched per event-loop turn: the complete frames of every `data` event
 *   of one poll phase are queued and written with a single `socket.write` from a
 *   `setImmediate` callback (one write syscall per connection per turn).
 * - Because an echo reply is byte-identical to its request, the queued replies are
 *   zero-copy views (`subarray`) of the received chunks covering the complete frames;
 *   nothing is allocated per frame (only a concat when a turn saw several chunks).
 *
 * The process exits on SIGTERM/SIGINT, and by itself if its parent process goes away.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { FrameCarry, HEADER_BYTES, completeFrameLength } from "./echo-frames.ts";


const socketPath = process.argv[2];
if (socketPath === undefined || socketPath === "") {
  process.stderr.write("usage: raw-echo-server.ts <socketPath>\n");
  process.exit(2);
}

function handleConnection(conn: net.Socket): void {
  /** Bytes of an incomplete frame carried over from the previous chunk(s). */
  const carry = new FrameCarry();
  /** Complete frames waiting for this turn's flush. */
  const out: Buffer[] = [];
  let flushScheduled = false;

  const flush = (): void => {
    flushScheduled = false;
    if (out.length === 0 || conn.destroyed) {
      out.length = 0;
      return;
    }
    const batch = out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
    out.length = 0;
    conn.write(batch);
  };

  conn.on("data", (chunk: Buffer) => {
    const buf = carry.join(chunk);
    let off = 0;
    for (let len = completeFrameLength(buf, 0); len >= 0; len = completeFrameLength(buf, off)) off += HEADER_BYTES + len;
    if (off > 0) {
      out.push(off === buf.length ? buf : buf.subarray(0, off));
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    }
    carry.keep(buf, off);
  });
  conn.on("error", () => {
    conn.destroy();
  });
}

const server = net.createServer(handleConnection);

function shutdown(code: number): void {
  server.close();
  try {
    fs.unlinkSync(socketPath as string);
  } catch {
    // already gone
  }
  process.exit(code);
}

process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));

// Never outlive the parent (e.g. if it was SIGKILLed before it could kill us).
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) shutdown(1);
}, 500).unref();

server.on("error", (err: Error) => {
  process.stderr.write(`raw-echo-server: ${err.message}\n`);
  shutdown(1);
});

try {
  fs.unlinkSync(socketPath);
} catch {
  // no stale socket
}
server.listen(socketPath, () => {
  process.stdout.write("ready\n");
});
