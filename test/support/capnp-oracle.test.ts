import { describe, it, expect } from "vitest";
import { fileURLToPath } from "node:url";
import {
  capnpAvailable,
  capnpDecode,
  capnpEncode,
  decodeWithSchema,
  encodeWithSchema,
  findStruct,
  loadSchema,
} from "./capnp-oracle.ts";
import type { OracleSchema, SlotFieldInfo, StructInfo } from "./capnp-oracle.ts";
import { CAPNP_MARK } from "./capnp-notice.ts";

const RPC_SCHEMA = fileURLToPath(new URL("../../schema/rpc.capnp", import.meta.url));
const haveCapnp = capnpAvailable();

let cached: Promise<OracleSchema> | undefined;
const rpc = (): Promise<OracleSchema> => (cached ??= loadSchema(RPC_SCHEMA));

function slot(st: StructInfo, name: string): SlotFieldInfo {
  const f = st.fields.find((x) => x.name === name);
  if (f === undefined || f.kind !== "slot") throw new Error(`no slot field ${name} in ${st.name}`);
  return f;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe.skipIf(!haveCapnp)(`capnp oracle (schema/rpc.capnp) ${CAPNP_MARK}`, () => {
  it("describes the layout the capnp compiler assigns", async () => {
    const schema = await rpc();
    expect(schema.file).toBe(RPC_SCHEMA);
    expect(schema.fileId).toBe("0xd3a2c61b9f4e8a71");

    const call = findStruct(schema, "Call");
    expect(call).toMatchObject({
      name: "Call",
      shortName: "Call",
      id: "0x8a6dfffe34cc524d",
      isGroup: false,
      dataWordCount: 2,
      pointerCount: 5,
      discriminantCount: 0,
    });
    expect(call.fields.map((f) => f.name)).toEqual([
      "questionId",
      "kind",
      "methodId",
      "namespace",
      "objectId",
      "method",
      "payload",
      "name",
      "target",
      "promisedAnswer",
    ]);
    expect(slot(call, "questionId")).toMatchObject({
      ordinal: 0,
      codeOrder: 0,
      discriminantValue: null,
      type: { kind: "uint32" },
      offset: 0,
      bits: { start: 0, end: 32 },
      pointerIndex: null,
    });
    expect(slot(call, "kind")).toMatchObject({
      ordinal: 1,
      type: { kind: "enum", name: "CallKind", id: "0xd47e9183a88badc7" },
      offset: 2,
      bits: { start: 32, end: 48 },
    });
    expect(slot(call, "methodId")).toMatchObject({ type: { kind: "uint16" }, bits: { start: 48, end: 64 } });
    expect(slot(call, "target")).toMatchObject({ ordinal: 8, type: { kind: "uint32" }, bits: { start: 64, end: 96 } });
    expect(slot(call, "promisedAnswer")).toMatchObject({ ordinal: 9, type: { kind: "uint32" }, bits: { start: 96, end: 128 } });
    const pointers = ["namespace", "objectId", "method", "payload", "name"].map((n) => {
      const f = slot(call, n);
      return [n, f.type.kind, f.pointerIndex, f.bits];
    });
    expect(pointers).toEqual([
      ["namespace", "text", 0, null],
      ["objectId", "data", 1, null],
      ["method", "text", 2, null],
      ["payload", "data", 3, null],
      ["name", "text", 4, null],
    ]);

    expect(schema.enums.CallKind?.enumerants.map((e) => [e.name, e.value])).toEqual([
      ["method", 0],
      ["fetch", 1],
      ["webSocket", 2],
    ]);

    const message = findStruct(schema, "Message");
    expect(message).toMatchObject({ dataWordCount: 1, pointerCount: 1, discriminantCount: 7, discriminantOffset: 0 });
    expect(message.fields.map((f) => [f.name, f.discriminantValue, f.kind === "slot" ? f.pointerIndex : null])).toEqual([
      ["call", 0, 0],
      ["return", 1, 0],
      ["exception", 2, 0],
      ["cancel", 3, 0],
      ["control", 4, 0],
      ["release", 5, 0],
      ["finish", 6, 0],
    ]);
    expect(slot(message, "control").type).toEqual({ kind: "struct", name: "Control", id: "0x85e0038a8d5def25" });

    const control = findStruct(schema, "Control");
    // `# 16 bytes, 1 ptrs`, `union { # tag bits [64, 80)`
    expect(control).toMatchObject({ dataWordCount: 2, pointerCount: 1, discriminantCount: 3, discriminantOffset: 4 });
    expect(slot(control, "ping")).toMatchObject({ type: { kind: "uint64" }, bits: { start: 0, end: 64 }, discriminantValue: 0 });
    expect(slot(control, "goodbye")).toMatchObject({ type: { kind: "text" }, pointerIndex: 0, discriminantValue: 2 });

    const exception = findStruct(schema, "Exception");
    expect(exception).toMatchObject({ dataWordCount: 1, pointerCount: 4 });
    expect(slot(exception, "retryable")).toMatchObject({ type: { kind: "bool" }, bits: { start: 32, end: 33 } });
    expect(findStruct(schema, "Cancel")).toMatchObject({ dataWordCount: 1, pointerCount: 0 });
    expect(slot(findStruct(schema, "Return"), "heldAnswer")).toMatchObject({ type: { kind: "bool" }, bits: { start: 32, end: 33 } });
    const release = findStruct(schema, "Release");
    expect(release).toMatchObject({ dataWordCount: 1, pointerCount: 0 });
    expect(slot(release, "count")).toMatchObject({ type: { kind: "uint32" }, bits: { start: 32, end: 64 } });
    expect(findStruct(schema, "Finish")).toMatchObject({ dataWordCount: 1, pointerCount: 0 });
  });

  const callValue = {
    $which: "call",
    call: {
      questionId: 7,
      kind: "fetch",
      methodId: 3,
      namespace: "Counter",
      objectId: new Uint8Array(32).map((_, i) => i * 7),
      method: "increment",
      payload: new Uint8Array([0x93, 1, 2, 3]),
      name: "alice",
      target: 0,
      promisedAnswer: 0,
    },
  };

  it("round-trips a call through encodeWithSchema and decodeWithSchema", async () => {
    const schema = await rpc();
    const bytes = encodeWithSchema(schema, "Message", callValue);
    expect(decodeWithSchema(schema, "Message", bytes)).toEqual(callValue);
  });

  it("round-trips control members, unions and absent pointers", async () => {
    const schema = await rpc();
    const ping = { $which: "control", control: { $which: "ping", ping: 123n } };
    expect(decodeWithSchema(schema, "Message", encodeWithSchema(schema, "Message", ping))).toEqual(ping);
    // `$which` may be left out when exactly one member is given.
    const goodbye = { control: { goodbye: "shutting down" } };
    expect(decodeWithSchema(schema, "Message", encodeWithSchema(schema, "Message", goodbye))).toEqual({
      $which: "control",
      control: { $which: "goodbye", goodbye: "shutting down" },
    });
    // Unset pointers are omitted; data fields come back as zero / the first enumerant.
    const sparse = encodeWithSchema(schema, "Message", { call: { questionId: 1, method: "m" } });
    expect(decodeWithSchema(schema, "Message", sparse)).toEqual({
      $which: "call",
      call: { questionId: 1, kind: "method", methodId: 0, method: "m", target: 0, promisedAnswer: 0 },
    });
    // Empty Text and Data are not absent.
    const empty = encodeWithSchema(schema, "Message", { call: { namespace: "", objectId: new Uint8Array(0) } });
    expect(decodeWithSchema(schema, "Message", empty)).toEqual({
      $which: "call",
      call: { questionId: 0, kind: "method", methodId: 0, namespace: "", objectId: new Uint8Array(0), target: 0, promisedAnswer: 0 },
    });
    const ex = {
      $which: "exception",
      exception: { questionId: 0xffffffff, retryable: true, name: "TypeError", message: "bad", stack: "at x" },
    };
    expect(decodeWithSchema(schema, "Message", encodeWithSchema(schema, "Message", ex))).toEqual(ex);
  });

  it("rejects values that do not fit the schema", async () => {
    const schema = await rpc();
    expect(() => encodeWithSchema(schema, "Message", { call: {}, cancel: {} })).toThrow(/several union members/);
    expect(() => encodeWithSchema(schema, "Message", { call: { bogus: 1 } })).toThrow(/no field bogus/);
    expect(() => encodeWithSchema(schema, "Message", { call: { questionId: -1 } })).toThrow(/uint32/);
    expect(() => encodeWithSchema(schema, "Message", { call: { kind: "nope" } })).toThrow(/enumerant/);
    const bytes = encodeWithSchema(schema, "Message", callValue);
    const padded = new Uint8Array(bytes.byteLength + 8);
    padded.set(bytes);
    expect(() => decodeWithSchema(schema, "Message", padded)).toThrow(/segment table/);
  });

  it("writes bytes that `capnp decode` reads back", async () => {
    const schema = await rpc();
    const text = await capnpDecode(schema, "Message", encodeWithSchema(schema, "Message", callValue));
    expect(text).toContain("questionId = 7");
    expect(text).toContain("kind = fetch");
    expect(text).toContain("methodId = 3");
    expect(text).toContain('namespace = "Counter"');
    expect(text).toContain('method = "increment"');
    expect(text).toContain('name = "alice"');
    expect(text).toContain('payload = "\\223\\001\\002\\003"');

    const ping = await capnpDecode(
      schema,
      "Message",
      encodeWithSchema(schema, "Message", { control: { ping: 123n } }),
    );
    expect(ping).toBe("(control = (ping = 123))");
  });

  it("reads bytes that `capnp encode` writes", async () => {
    const schema = await rpc();
    const bytes = await capnpEncode(
      schema,
      "Message",
      '(call = (questionId = 7, kind = fetch, namespace = "Counter", method = "increment"))',
    );
    expect(decodeWithSchema(schema, "Message", bytes)).toEqual({
      $which: "call",
      call: { questionId: 7, kind: "fetch", methodId: 0, namespace: "Counter", method: "increment", target: 0, promisedAnswer: 0 },
    });

    const pong = await capnpEncode(schema, "Message", "(control = (pong = 18446744073709551615))");
    expect(decodeWithSchema(schema, "Message", pong)).toEqual({
      $which: "control",
      control: { $which: "pong", pong: 0xffffffffffffffffn },
    });
  });

  it("produces the same bytes as `capnp encode` when fields are set in code order", async () => {
    const schema = await rpc();
    const ours = encodeWithSchema(schema, "Message", callValue);
    const objectId = Array.from(callValue.call.objectId, (b) => b.toString(16).padStart(2, "0")).join("");
    const theirs = await capnpEncode(
      schema,
      "Message",
      `(call = (questionId = 7, kind = fetch, methodId = 3, namespace = "Counter", objectId = 0x"${objectId}", ` +
        `method = "increment", payload = 0x"93010203", name = "alice"))`,
    );
    expect(hex(ours)).toBe(hex(theirs));

    const ping = await capnpEncode(schema, "Message", "(control = (ping = 123))");
    expect(hex(encodeWithSchema(schema, "Message", { control: { ping: 123n } }))).toBe(hex(ping));
  });
});
