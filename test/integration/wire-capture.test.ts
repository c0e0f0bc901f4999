// Frames captured from a live isolate socket decode with capnp-ts, driven by schema/rpc.capnp.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallKind } from "../../runtime/wire/envelope.ts";
import { FrameWriter } from "../../runtime/wire/frame-writer.ts";
import { decodePayload, encodePayload } from "../../runtime/wire/payload.ts";
import { TestCounter } from "../fixtures/objects.ts";
import { decodeWithSchema, loadSchema } from "../support/capnp-oracle.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";
import { exchangeFrames } from "../support/raw-socket.ts";


describe("frames captured from a live host", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1 });
  });
  afterAll(() => cluster.close());

  it("decode with capnp-ts from the schema file", async () => {
    const schema = await loadSchema(fileURLToPath(new URL("../../schema/rpc.capnp", import.meta.url)));
    const ns = cluster.coordinator.namespace(TestCounter);
    const id = ns.idFromName("captured");
    const w = new FrameWriter();
    w.writeCall(1, CallKind.Method, 0, "TestCounter", id.toString(), "increment", encodePayload([41], "test"), "captured");
    w.writeCall(2, CallKind.Method, 0, "TestCounter", id.toString(), "_private", encodePayload([], "test"), undefined);
    const captured = await exchangeFrames(cluster.coordinator.locate(TestCounter, id)!.socketPath, w.take(), 2);
    // Answers come in completion order, not call order: the refusal is immediate, increment is async.
    const decoded = captured.map((frame) => decodeWithSchema(schema, "Message", frame));
    const ret = decoded.find((m) => m["$which"] === "return");
    const exc = decoded.find((m) => m["$which"] === "exception");
    expect(ret).toMatchObject({ $which: "return", return: { questionId: 1 } });
    expect(decodePayload((ret as { return: { payload: Uint8Array } }).return.payload, "test")).toBe(41);
    expect(exc).toMatchObject({
      $which: "exception",
      exception: { questionId: 2, retryable: false, name: "SourdoughError", code: "ERR_METHOD_NOT_FOUND" },
    });
    expect((exc as { exception: { message: string } }).exception.message).toContain("TestCounter._private");
  });

  it("answers bad calls from a raw client with exceptions and keeps the connection", async () => {
    const schema = await loadSchema(fileURLToPath(new URL("../../schema/rpc.capnp", import.meta.url)));
    const id = cluster.coordinator.namespace(TestCounter).idFromName("raw").toString();
    const args = encodePayload([1], "test");
    const w = new FrameWriter();
    w.writeCall(1, CallKind.Method, 0, "NoSuchClass", id, "increment", args, undefined);
    w.writeCall(2, CallKind.Method, 0, "TestCounter", "ab".repeat(32), "increment", args, undefined);
    w.writeCall(3, CallKind.Method, 0, "TestCounter", id, "increment", new Uint8Array([0x92, 0x01]), undefined);
    w.writeCall(4, CallKind.Method, 0, "TestCounter", id, "increment", encodePayload({ not: "an array" }, "test"), undefined);
    w.writeCall(5, CallKind.Method, 0, "TestCounter", id, "increment", args, undefined);
    const socketPath = cluster.coordinator.locate(TestCounter, cluster.coordinator.namespace(TestCounter).idFromString(id))!.socketPath;
    const frames = (await exchangeFrames(socketPath, w.take(), 5)).map((f) => decodeWithSchema(schema, "Message", f));
    const byQuestion = new Map(frames.map((m) => {
      const body = (m["exception"] ?? m["return"]) as { questionId: number };
      return [body.questionId, m] as const;
    }));
    expect(byQuestion.get(1)).toMatchObject({ exception: { code: "ERR_BAD_CLASS" } });
    expect(byQuestion.get(2)).toMatchObject({ exception: { code: "ERR_BAD_ID" } });
    expect(byQuestion.get(3)).toMatchObject({ exception: { code: "ERR_PROTOCOL" } });
    expect(byQuestion.get(4)).toMatchObject({ exception: { code: "ERR_PROTOCOL" } });
    expect(byQuestion.get(5)).toMatchObject({ $which: "return" });
  });
});
