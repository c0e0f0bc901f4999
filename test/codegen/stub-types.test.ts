// Compile-time checks on generated stubs (run by tsc --noEmit over test/, and by vitest's expectTypeOf):
// each stub has exactly the schema's methods with the class's parameter types, returning promises.
import { describe, expectTypeOf, it } from "vitest";
import type { DurableObjectId, DurableObjectStub, RpcPromise, RpcStub } from "sourdough";
import type { CounterStub as BasicCounterStub } from "./fixtures/basic/expected/stubs.ts";
import type { CounterStub, Stubs } from "./fixtures/counter-example/expected/stubs.ts";
import type { NoteStub, PinnedStub } from "./fixtures/inheritance/expected/stubs.ts";
import type { registry } from "./fixtures/counter-example/expected/registry.ts";
import type { Peer, Roster } from "./fixtures/refs/input.ts";
import type { HubStub, PeerStub } from "./fixtures/refs/expected/stubs.ts";

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

  it("take and return ids and stubs (DurableObjectRef on the wire) with the class's types", () => {
    expectTypeOf<HubStub["greet"]>().toEqualTypeOf<(peer: DurableObjectStub<Peer>) => Promise<string>>();
    expectTypeOf<HubStub["which"]>().toEqualTypeOf<(id: DurableObjectId, alias?: DurableObjectId) => Promise<DurableObjectId>>();
    expectTypeOf<HubStub["roster"]>().returns.resolves.toEqualTypeOf<Roster>();
    expectTypeOf<HubStub["peers"]>().returns.resolves.toEqualTypeOf<Array<DurableObjectStub<Peer>>>();
    const check = (hub: HubStub, peer: PeerStub, id: DurableObjectId) => {
      // @ts-expect-error an id is not a stub
      void hub.greet(id);
      // @ts-expect-error a stub is not an id
      void hub.which(peer);
      return hub.typed(peer);
    };
    expectTypeOf(check).returns.resolves.toEqualTypeOf<Pick<DurableObjectStub<Peer>, "ping" | "id" | "name" | "fetch">>();
  });

  it("accept callbacks and return RpcTargets and functions as typed stubs (calls on them are async)", () => {
    expectTypeOf<HubStub["subscribe"]>().toEqualTypeOf<(onTick: (n: number) => void) => Promise<void>>();
    // A returned RpcTarget is a stub whose methods return promises, callable before it resolves (pipelining).
    type Ticker = Awaited<ReturnType<HubStub["ticker"]>>;
    expectTypeOf<Ticker["next"]>().toEqualTypeOf<() => RpcPromise<number>>();
    expectTypeOf<Ticker>().toHaveProperty("dup");
    expectTypeOf<ReturnType<HubStub["ticker"]>["next"]>().toEqualTypeOf<() => RpcPromise<number>>();
    // A returned function is a stub: calling it returns a promise.
    type Adder = Awaited<ReturnType<HubStub["adder"]>>;
    expectTypeOf<Adder>().toEqualTypeOf<RpcStub<(n: number) => number>>();
    expectTypeOf<ReturnType<Adder>>().toEqualTypeOf<RpcPromise<number>>();
    const check = async (hub: HubStub) => {
      await hub.subscribe((n) => void n.toFixed());
      // @ts-expect-error the callback takes a number, not a string
      await hub.subscribe((s: string) => void s.toUpperCase());
      // @ts-expect-error a callback is required
      await hub.subscribe();
      const add = await hub.adder(1);
      // @ts-expect-error the function stub takes a number
      void add("2");
      return add(2);
    };
    expectTypeOf(check).returns.resolves.toEqualTypeOf<number>();
  });
});
