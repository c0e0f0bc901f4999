import { describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "../../runtime/wire/payload.ts";
import { callableMethods, methodNotCallable } from "../../runtime/object/callable-methods.ts";
import { DurableObject } from "../../runtime/object/durable-object.ts";

const copy = <T>(v: T): T => decodePayload(encodePayload(v, "test"), "test") as T;

class Msg {
  constructor(readonly text: string) {}
  shout(): string {
    return this.text.toUpperCase();
  }
}
class ValidationError extends Error {
  override name = "ValidationError";
}

describe("payload encoding", () => {
  it.each([
    { given: 0 },
    { given: -1.5 },
    { given: 2 ** 53 + 2 },
    { given: 2 ** 40 },
    { given: Number.NaN },
    { given: 7n },
    { given: -(2n ** 100n) },
    { given: "☃ text" },
    { given: null },
    { given: undefined },
    { given: [1, undefined, null] },
    { given: { a: { b: [new Date(5)] } } },
    { given: new Map<unknown, unknown>([[{ k: 1 }, new Set([1])]]) },
    { given: new Uint8Array([0, 255]) },
    { given: new Int32Array([-1]) },
  ])("copies $given exactly", ({ given }) => {
    expect(copy(given)).toEqual(given);
  });

  it("keeps cycles and shared references", () => {
    const shared = { x: 1 };
    const value: Record<string, unknown> = { a: shared, b: shared };
    value["self"] = value;
    const back = copy(value);
    expect(back["self"]).toBe(back);
    expect(back["a"]).toBe(back["b"]);
  });

  it.each([
    { given: { deep: [1, { fn: () => 1 }] }, want: "where.deep[1].fn: function fn cannot cross RPC. Pass data, not functions." },
    { given: [Symbol("s")], want: "where[0]: Symbol(s) cannot cross RPC. Use a string." },
    { given: { p: Promise.resolve(1) }, want: "where.p: a Promise cannot cross RPC. Await it" },
    { given: new Map([["k", new WeakMap()]]), want: 'where.get("k"): a WeakMap cannot cross RPC' },
    { given: [{ msg: new Msg("hi") }], want: "where[0].msg: a Msg instance cannot cross RPC (class instances lose their prototype and methods). Pass a plain object" },
    { given: { url: new URL("http://x/") }, want: "where.url: a URL instance cannot cross RPC (class instances lose their prototype and methods). Pass value.toJSON() or a plain object" },
    { given: [new (class Tags extends Map {})()], want: "where[0]: a Tags instance (a Map subclass) cannot cross RPC" },
    { given: [new String("s")], want: "where[0]: a boxed String cannot cross RPC. Pass the primitive" },
    { given: { e: new Error("x", { cause: new Msg("c") }) }, want: "where.e.cause: a Msg instance cannot cross RPC" },
  ])("refuses $want", ({ given, want }) => {
    let error: unknown;
    try {
      encodePayload(given, "where");
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "DataCloneError", code: "ERR_UNSUPPORTED_TYPE" });
    expect((error as Error).message).toContain(want);
  });

  it.each([
    { given: new TypeError("t"), want: { name: "TypeError", Class: TypeError } },
    { given: new RangeError("r"), want: { name: "RangeError", Class: RangeError } },
    { given: new ValidationError("v"), want: { name: "ValidationError", Class: Error } },
  ])("keeps the class name of a $want.name", ({ given, want }) => {
    const back = copy({ error: given }).error;
    expect(back).toBeInstanceOf(want.Class);
    expect(back).toMatchObject({ name: want.name, message: given.message });
    expect(back.stack).toBe(given.stack);
  });

  it("keeps an error's cause and code", () => {
    const back = copy(Object.assign(new Error("outer", { cause: new TypeError("inner") }), { code: "E_OUTER" }));
    expect(back.cause).toBeInstanceOf(TypeError);
    expect(back).toMatchObject({ message: "outer", code: "E_OUTER", cause: { message: "inner" } });
  });

  it.each([
    { given: (class Tagged extends Array<number> {}).of(1, 2), want: [1, 2] },
    { given: Object.assign(Object.create(null) as object, { a: 1 }), want: { a: 1 } },
    { given: /x+/gi, want: /x+/gi },
    { given: new DataView(new ArrayBuffer(2)), want: new DataView(new ArrayBuffer(2)) },
  ])("copies the built-in $given", ({ given, want }) => {
    expect(copy(given)).toEqual(want);
  });

  it.each([{ given: "arrays", make: (v: unknown) => [v] }, { given: "objects", make: (v: unknown) => ({ a: v }) }])(
    "refuses $given nested 100 000 levels deep with a coded error, not a RangeError",
    ({ make }) => {
      let deep: unknown = 1;
      for (let i = 0; i < 100_000; i++) deep = make(deep);
      expect(() => encodePayload(deep, "Counter.add arguments")).toThrow(
        expect.objectContaining({ code: "ERR_UNSUPPORTED_TYPE", message: expect.stringContaining("Counter.add arguments: the value is nested too deeply to copy") }),
      );
    },
  );

  it("refuses a deeply nested payload on decode with a protocol error", () => {
    const depth = 200_000;
    const bytes = new Uint8Array(depth + 1).fill(0x91); // fixarray(1) nested, ending in a positive fixint
    bytes[depth] = 0x01;
    expect(() => decodePayload(bytes, "Counter.add arguments")).toThrow(expect.objectContaining({ code: "ERR_PROTOCOL" }));
  });

  it("refuses bytes that are not msgpack with a protocol error", () => {
    expect(() => decodePayload(new Uint8Array([0x92, 0x01]), "Counter.add arguments")).toThrow(/Counter.add arguments: payload is not valid msgpack/);
  });
});

describe("callable methods", () => {
  class Base extends DurableObject {
    inherited(): number {
      return 1;
    }
  }
  class Child extends Base {
    own(): number {
      return 2;
    }
    _hidden(): void {}
    override toString(): string {
      return "x";
    }
    get computed(): number {
      return 3;
    }
    field = () => 4;
    alarm(): void {}
    override async fetch(): Promise<Response> {
      return new Response();
    }
  }

  it("exposes own and inherited public methods only", () => {
    expect([...callableMethods(Child)].sort()).toEqual(["inherited", "own"]);
  });

  it("explains each refusal", () => {
    expect(methodNotCallable("Child", Child, "_hidden").message).toBe('Child._hidden: methods whose names start with "_" are private and cannot be called over RPC. Callable methods: inherited, own.');
    expect(methodNotCallable("Child", Child, "fetch").message).toContain("fetch() is called with stub.fetch(request)");
    expect(methodNotCallable("Child", Child, "missing").message).toBe("Child.missing: no such RPC method on class Child. Callable methods: inherited, own.");
  });
});
