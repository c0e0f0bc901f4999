// Compile-time checks on generated stubs (run by tsc --noEmit over test/, and by vitest's expectTypeOf):
// each stub has exactly the schema's methods with the class's parameter types, returning promises.
import { describe, expectTypeOf, it } from "vitest";
import type { DurableObjectId } from "sourdough";
import type { CounterStub as BasicCounterStub } from "./fixtures/basic/expected/stubs.ts";
import type { CounterStub, Stubs } from "./fixtures/counter-example/expected/stubs.ts";
import type { NoteStub, PinnedStub } from "./fixtures/inheritance/expected/stubs.ts";
import type { registry } from "./fixtures/counter-example/expected/registry.ts";

describe("generated stubs", () => {
  it("carry each method's parameters and a Promise of its awaited result", () => {
    expectTypeOf<CounterStub["increment"]>().toEqualTypeOf<(by?: number) => Promise<number>>();
    expectTypeOf<CounterStub["whereAmI"]>().toEqualTypeOf<() => Promise<{ pid: number; threadId: number }>>();
    expectTypeOf<CounterStub["id"]>().toEqualTypeOf<DurableObjectId>();
    expectTypeOf<BasicCounterStub["rename"]>().parameters.toEqualTypeOf<[name: string, note?: string | null]>();
    expectTypeOf<Stubs["Counter"]>().toEqualTypeOf<CounterStub>();
    expectTypeOf<PinnedStub["pin"]>().toEqualTypeOf<(on: boolean) => Promise<boolean>>();
  });

  it("reject wrong arguments and methods outside the schema at compile time", () => {
    const check = (stub: CounterStub, note: NoteStub) => {
      // @ts-expect-error a string is not a number
      void stub.increment("5");
      // @ts-expect-error too many arguments
      void stub.increment(1, 2);
      // @ts-expect-error no such method
      void stub.decrement();
      // @ts-expect-error protected methods are not in the schema
      void note.stamp();
      // @ts-expect-error runtime handlers are not RPC methods
      void note.alarm();
      return stub.increment(5);
    };
    expectTypeOf(check).returns.toEqualTypeOf<Promise<number>>();
  });

  it("type the registry's method ids as literals", () => {
    expectTypeOf<(typeof registry)["classes"]["Counter"]["methods"]["increment"]["id"]>().toEqualTypeOf<1>();
  });
});
