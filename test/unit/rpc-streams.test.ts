// ReadableStreams in payloads outside a call (storage, WebSocket attachments): refused by name.
// Streams inside calls are tested end to end in test/integration/rpc-streams.test.ts.
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../runtime/errors.ts";
import { decodePayload, encodePayload } from "../../runtime/wire/payload.ts";

describe("ReadableStream payloads outside a call", () => {
  it("are refused with a DataCloneError saying where streams can travel", () => {
    let error: unknown;
    try {
      encodePayload({ body: new ReadableStream() }, "test");
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "DataCloneError", code: ErrorCode.UNSUPPORTED_TYPE });
    expect((error as Error).message).toMatch(/^test.*ReadableStream cannot cross here: streams travel only in the arguments or result of an RPC call/);
  });

  it("a cyclic value still round-trips (the stream extension does not take msgpackr's own types)", () => {
    const a: { self?: unknown; list: unknown[] } = { list: [] };
    a.self = a;
    a.list.push(a);
    const b = decodePayload(encodePayload(a, "test"), "test") as typeof a;
    expect(b.self).toBe(b);
    expect(b.list[0]).toBe(b);
  });
});
