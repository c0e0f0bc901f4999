// Our direct codec against the reference: bytes it writes decode with capnp-ts (driven by
// schema/rpc.capnp through `capnp compile`) and with `capnp decode`; capnp-ts writes the very same
// bytes for the same values; bytes from `capnp encode` decode with our reader.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { decodeMessage } from "../../runtime/wire/decode-message.ts";
import { CallKind, ControlWhich } from "../../runtime/wire/envelope.ts";
import { FrameWriter } from "../../runtime/wire/frame-writer.ts";
import { FrameReader } from "../../runtime/wire/frame-reader.ts";
import { CAPNP_MARK } from "../support/capnp-notice.ts";
import { capnpAvailable, capnpDecode, capnpEncode, decodeWithSchema, encodeWithSchema, loadSchema, type OracleSchema } from "../support/capnp-oracle.ts";

const SCHEMA = fileURLToPath(new URL("../../schema/rpc.capnp", import.meta.url));
const haveCapnp = capnpAvailable();

let schema: Promise<OracleSchema> | undefined;
const rpc = () => (schema ??= loadSchema(SCHEMA));
const ID = "00112233445566778899aabbccddeeff".repeat(2);
const bytesOf = (write: (w: FrameWriter) => void): Buffer => {
  const w = new FrameWriter();
  write(w);
  return w.take();
};

const cases: Array<{ name: string; write: (w: FrameWriter) => void; value: Record<string, unknown> }> = [
  {
    name: "call",
    write: (w) => w.writeCall(7, CallKind.Fetch, 2, "Counter", ID, "increment", new Uint8Array([1, 2, 3, 4, 5]), "room ☃"),
    value: { call: { questionId: 7, kind: "fetch", methodId: 2, namespace: "Counter", objectId: Buffer.from(ID, "hex"), method: "increment", payload: new Uint8Array([1, 2, 3, 4, 5]), name: "room ☃", target: 0, promisedAnswer: 0 } },
  },
  {
    name: "call without a name",
    write: (w) => w.writeCall(1, CallKind.Method, 0, "C", ID, "m", new Uint8Array(16), undefined),
    value: { call: { questionId: 1, kind: "method", methodId: 0, namespace: "C", objectId: Buffer.from(ID, "hex"), method: "m", payload: new Uint8Array(16), target: 0, promisedAnswer: 0 } },
  },
  {
    name: "one-way WebSocket operation",
    write: (w) => w.writeCall(0, CallKind.WebSocket, 0, "Room", ID, "send", new Uint8Array([0xa1, 0x78]), undefined),
    value: { call: { questionId: 0, kind: "webSocket", methodId: 0, namespace: "Room", objectId: Buffer.from(ID, "hex"), method: "send", payload: new Uint8Array([0xa1, 0x78]), target: 0, promisedAnswer: 0 } },
  },
  {
    name: "call on an export, pipelined on a question",
    write: (w) => w.writeCall(5, CallKind.Method, 0, "Room", ID, "post", new Uint8Array([0x91, 0xa1, 0x61]), undefined, undefined, 3, 4),
    value: { call: { questionId: 5, kind: "method", methodId: 0, namespace: "Room", objectId: Buffer.from(ID, "hex"), method: "post", payload: new Uint8Array([0x91, 0xa1, 0x61]), target: 3, promisedAnswer: 4 } },
  },
  { name: "return of a held answer", write: (w) => w.writeReturn(9, new Uint8Array([0xc3]), true), value: { return: { questionId: 9, payload: new Uint8Array([0xc3]), heldAnswer: true } } },
  { name: "release", write: (w) => w.writeRelease(6, 2), value: { release: { exportId: 6, count: 2 } } },
  { name: "finish", write: (w) => w.writeFinish(11), value: { finish: { questionId: 11 } } },
  { name: "return", write: (w) => w.writeReturn(9, new Uint8Array([0xc3])), value: { return: { questionId: 9, payload: new Uint8Array([0xc3]), heldAnswer: false } } },
  {
    name: "exception",
    write: (w) => w.writeException(3, true, "TypeError", "bad", "E_X", "at x"),
    value: { exception: { questionId: 3, retryable: true, name: "TypeError", message: "bad", code: "E_X", stack: "at x" } },
  },
  { name: "cancel", write: (w) => w.writeCancel(4), value: { cancel: { questionId: 4 } } },
  { name: "ping", write: (w) => w.writeControl(ControlWhich.Ping, 99n), value: { control: { ping: 99n } } },
  { name: "goodbye", write: (w) => w.writeControl(ControlWhich.Goodbye, 0n, "closing"), value: { control: { goodbye: "closing" } } },
];

// capnp-ts against schema/rpc.capnp runs everywhere (committed compiled nodes where the tool is missing).
describe("wire conformance with capnp-ts", () => {
  it.each(cases)("$name: capnp-ts reads our frame", async ({ write, value }) => {
    const decoded = decodeWithSchema(await rpc(), "Message", bytesOf(write));
    expect(normalize(decoded)).toEqual(normalize(value));
  });

  it.each(cases)("$name: capnp-ts writes byte-identical frames", async ({ write, value }) => {
    const reference = Buffer.from(encodeWithSchema(await rpc(), "Message", value));
    expect(bytesOf(write).toString("hex")).toBe(reference.toString("hex"));
  });

});

describe.skipIf(!haveCapnp)(`wire conformance with the capnp tool ${CAPNP_MARK}`, () => {
  it("capnp decode reads a call frame", async () => {
    const text = await capnpDecode(await rpc(), "Message", bytesOf(cases[0]!.write));
    expect(text).toContain("questionId = 7");
    expect(text).toContain("kind = fetch");
    expect(text).toContain('namespace = "Counter"');
    expect(text).toContain('method = "increment"');
  });

  it("our reader decodes what capnp encode writes", async () => {
    const bytes = await capnpEncode(await rpc(), "Message", '(exception = (questionId = 12, retryable = true, name = "RangeError", message = "too big", code = "E_BIG"))');
    const messages: unknown[] = [];
    new FrameReader((buf, s, e) => messages.push(decodeMessage(buf, s, e))).push(Buffer.from(bytes));
    expect(messages).toEqual([{ which: 2, questionId: 12, retryable: true, name: "RangeError", message: "too big", code: "E_BIG", stack: undefined }]);
  });
});

// capnp-ts's Data comes back as Uint8Array, ours as Buffer: compare as plain byte arrays, drop $which.
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== "$which").map(([k, v]) => [k, normalize(v)]));
}
