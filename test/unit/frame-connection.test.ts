import { describe, expect, it } from "vitest";
import { FrameConnection } from "../../runtime/transport/frame-connection.ts";
import type { Pipe, PipeHandlers } from "../../runtime/transport/pipe.ts";

function recordingPipe(): Pipe & { writes: Buffer[] } {
  const writes: Buffer[] = [];
  return {
    writes,
    write: (b) => void writes.push(b),
    end: () => {},
    destroy: () => {},
    attach: (_h: PipeHandlers) => {},
  };
}

describe("FrameConnection", () => {
  it("writes all frames of one event-loop turn in a single write", async () => {
    const pipe = recordingPipe();
    const conn = new FrameConnection(pipe, { message: () => {}, close: () => {} });
    for (let i = 0; i < 256; i++) {
      conn.writer.writeReturn(i, new Uint8Array([i & 0xff]));
      conn.flushSoon();
    }
    expect(pipe.writes).toHaveLength(0); // nothing leaves before the turn ends
    await new Promise((r) => setImmediate(r));
    expect(pipe.writes).toHaveLength(1);
    conn.writer.writeReturn(999, new Uint8Array(0));
    conn.flushSoon();
    await new Promise((r) => setImmediate(r));
    expect(pipe.writes).toHaveLength(2);
  });
});
