// The runtime's RPC surface of a class: the names workerd reserves are refused here too, and
// sourdough-gen never makes an RPC method of a name the runtime refuses.
import { describe, expect, it } from "vitest";
import { methodNameRule } from "../../codegen/method-names.ts";
import { ErrorCode } from "../../runtime/errors.ts";
import { callableMethods, methodNotCallable } from "../../runtime/object/callable-methods.ts";
import { DurableObject } from "../../runtime/object/durable-object.ts";

class Counter extends DurableObject {
  increment(): number {
    return 1;
  }
  dup(): Counter {
    return this;
  }
  connect(): void {}
}

describe("callableMethods", () => {
  it("leaves out the names workerd reserves", () => {
    expect([...callableMethods(Counter)]).toEqual(["increment"]);
  });

  it.each([
    { given: "dup", want: "Counter.dup: 'dup' is a reserved method (stubs use it to duplicate themselves). Rename the method. Callable methods: increment." },
    { given: "connect", want: "Counter.connect: 'connect' is a reserved method (on Cloudflare, stubs use it to open a socket to the object). Rename the method. Callable methods: increment." },
  ])("refuses $given with ERR_METHOD_NOT_FOUND, saying it is reserved", ({ given, want }) => {
    const error = methodNotCallable("Counter", Counter, given);
    expect(error.code).toBe(ErrorCode.METHOD_NOT_FOUND);
    expect(error.message).toBe(want);
  });

  // `id`, `name`, `then` and `toJSON` reach the object by name, but the stub answers them itself,
  // so sourdough-gen leaves them out; it never generates a method the runtime refuses.
  it.each([
    { given: "increment", want: { runtime: true, generated: "rpc" } },
    { given: "scheduled", want: { runtime: true, generated: "rpc" } },
    { given: "fetch", want: { runtime: false, generated: "fetch" } },
    ...["alarm", "webSocketMessage", "webSocketClose", "webSocketError", "constructor", "_x", "ctx", "env", "toString", "valueOf"].map((given) => ({ given, want: { runtime: false, generated: "skip" } })),
    { given: "dup", want: { runtime: false, generated: "error" } },
    { given: "connect", want: { runtime: false, generated: "warning" } },
    ...["id", "name", "then"].map((given) => ({ given, want: { runtime: true, generated: "error" } })),
    { given: "toJSON", want: { runtime: true, generated: "warning" } },
  ])("treats a method named $given as sourdough-gen expects", ({ given, want }) => {
    const Class = class extends DurableObject {};
    Object.defineProperty(Class.prototype, given, { value: () => undefined, writable: true, configurable: true });
    expect({ runtime: callableMethods(Class).has(given), generated: methodNameRule(given).kind }).toEqual(want);
  });
});
