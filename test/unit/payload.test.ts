import { describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "../../runtime/wire/payload.ts";
import { callableMethods, methodNotCallable } from "../../runtime/object/callable-methods.ts";
import { DurableObject } from "../../runtime/object/durable-object.ts";

const copy = <T>(v: T): T => decodePayload(encodePayload(v, "test"), "test") as T;

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
    { given: { deep: [1, { fn: () => 1 }] }, want: "where: .deep[1].fn is function fn: functions cannot cross RPC" },
    { given: [Symbol("s")], want: "where: [0] is Symbol(s): symbols cannot cross RPC" },
    { given: { p: Promise.resolve(1) }, want: "where: .p is a Promise: a Promise cannot cross RPC. Await it" },
    { given: new Map([["k", new WeakMap()]]), want: 'where: .get("k") is a WeakMap: a WeakMap cannot cross RPC' },
  ])("refuses $want", ({ given, want }) => {
    expect(() => encodePayload(given, "where")).toThrow(want);
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
