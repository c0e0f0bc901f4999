// Compile-time checks (run by `npm test` through tsc --noEmit): stubs carry the class's signatures.
import { describe, expectTypeOf, it } from "vitest";
import { DurableObject, withCallOptions, type DurableObjectId, type DurableObjectNamespace, type DurableObjectStub } from "sourdough";
import type { TestCounter } from "../fixtures/objects.ts";

describe("DurableObjectStub<T>", () => {
  it("maps each public method to its parameters and a Promise of its awaited result", () => {
    type Stub = DurableObjectStub<TestCounter>;
    expectTypeOf<Stub["increment"]>().toEqualTypeOf<(by?: number) => Promise<number>>();
    expectTypeOf<Stub["get"]>().toEqualTypeOf<() => Promise<number>>();
    expectTypeOf<Stub["id"]>().toEqualTypeOf<DurableObjectId>();
    expectTypeOf<Stub["fetch"]>().returns.toEqualTypeOf<Promise<Response>>();
  });

  it("rejects wrong arguments, unknown and private methods at compile time", () => {
    const check = (ns: DurableObjectNamespace<TestCounter>) => {
      const stub = ns.getByName("x");
      // @ts-expect-error a string is not a number
      void stub.increment("5");
      // @ts-expect-error no such method
      void stub.decrement();
      // @ts-expect-error private by convention: not on the stub
      void stub._private();
      // @ts-expect-error ctx is the object's state, not callable
      void stub.ctx;
      return stub.increment(5);
    };
    expectTypeOf(check).returns.toEqualTypeOf<Promise<number>>();
  });

  it("leaves handlers and the names workerd reserves (dup, connect) off the stub", () => {
    class Reserved {
      dup(): number {
        return 1;
      }
      connect(): number {
        return 2;
      }
      alarm(): void {}
      webSocketMessage(): void {}
      ok(): number {
        return 3;
      }
    }
    expectTypeOf<keyof DurableObjectStub<Reserved>>().toEqualTypeOf<"ok" | "id" | "name" | "fetch">();
  });

  it("leaves every handler off the stub of a DurableObject subclass: alarm and the three webSocket* handlers", () => {
    class Handlers extends DurableObject {
      alarm(): void {}
      override webSocketMessage(): void {}
      override webSocketClose(): void {}
      override webSocketError(): void {}
      ok(): number {
        return 3;
      }
    }
    expectTypeOf<keyof DurableObjectStub<Handlers>>().toEqualTypeOf<"ok" | "id" | "name" | "fetch">();
    const check = (stub: DurableObjectStub<Handlers>) => {
      // @ts-expect-error the runtime calls alarm(); a stub never does
      void stub.alarm();
      // @ts-expect-error a WebSocket handler, not an RPC method
      void stub.webSocketClose();
      return stub.ok();
    };
    expectTypeOf(check).returns.toEqualTypeOf<Promise<number>>();
  });

  it("keeps Object.prototype's names local: a class's own toString is not an RPC on the stub", () => {
    class Named {
      toString(): string {
        return "named";
      }
      valueOf(): number {
        return 1;
      }
      ok(): number {
        return 3;
      }
    }
    expectTypeOf<keyof DurableObjectStub<Named>>().toEqualTypeOf<"ok" | "id" | "name" | "fetch">();
    expectTypeOf<DurableObjectStub<Named>["toString"]>().toEqualTypeOf<() => string>();
  });

  it("withCallOptions returns a stub of the same type", () => {
    const check = (ns: DurableObjectNamespace<TestCounter>) => withCallOptions(ns.getByName("x"), { timeoutMs: 100, signal: AbortSignal.timeout(50) });
    expectTypeOf(check).returns.toEqualTypeOf<DurableObjectStub<TestCounter>>();
  });
});
