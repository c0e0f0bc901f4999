// RpcClient's deadlines and cancellation over an in-memory pipe, with a hand-driven peer that records
// every frame the client sends and answers only when told to.
import { afterEach, describe, expect, it } from "vitest";
import { RpcClient, type CallOptions } from "../../runtime/rpc/rpc-client.ts";
import { FrameConnection } from "../../runtime/transport/frame-connection.ts";
import { memoryPipePair } from "../../runtime/transport/pipe.ts";
import { CallKind, Which, type Message } from "../../runtime/wire/envelope.ts";
import { encodePayload } from "../../runtime/wire/payload.ts";

interface Peer {
  client: RpcClient;
  received: Message[];
  answer(questionId: number, value: unknown): void;
  call(method: string, options?: CallOptions): Promise<unknown>;
}

const clients: RpcClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function peer(callTimeoutMs?: number): Peer {
  const received: Message[] = [];
  let server: FrameConnection | undefined;
  const client = new RpcClient(
    async () => {
      const [mine, theirs] = memoryPipePair();
      server = new FrameConnection(theirs, { message: (m) => void received.push(m), close: () => {} });
      return mine;
    },
    { peer: "test peer", connectTimeoutMs: 1000, callTimeoutMs },
  );
  clients.push(client);
  const target = { namespace: "Counter", objectId: "ab".repeat(32), name: undefined };
  return {
    client,
    received,
    answer(questionId, value) {
      server!.writer.writeReturn(questionId, encodePayload(value, "test"));
      server!.flush();
    },
    call: (method, options) => client.call(CallKind.Method, target, method, 0, encodePayload([], "test"), `Counter.${method}`, undefined, options),
  };
}

const settle = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));
const questionOf = (m: Message | undefined) => (m as { questionId?: number } | undefined)?.questionId;

describe("RpcClient deadlines and cancellation", () => {
  it("rejects a call past its timeoutMs with ERR_DEADLINE_EXCEEDED, sends Cancel, and ignores the late answer", async () => {
    const p = peer();
    const started = Date.now();
    const slow = p.call("slow", { timeoutMs: 100 }).catch((e: unknown) => e);
    const fast = p.call("fast");
    await settle();
    const [slowCall, fastCall] = p.received;
    expect(slowCall).toMatchObject({ which: Which.Call, method: "slow" });
    const error = await slow;
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(error).toMatchObject({
      name: "SourdoughError",
      code: "ERR_DEADLINE_EXCEEDED",
      message: "Counter.slow: no answer within 100 ms (timeoutMs). The call was cancelled and may or may not have run; raise timeoutMs or make the method answer sooner.",
    });
    await settle();
    expect(p.received.at(-1)).toEqual({ which: Which.Cancel, questionId: questionOf(slowCall) });
    p.answer(questionOf(slowCall)!, "late"); // forgotten: no effect, no throw
    p.answer(questionOf(fastCall)!, "fast answer");
    expect(await fast).toBe("fast answer");
  });

  it("applies callTimeoutMs to every call, and a per-call timeoutMs replaces it", async () => {
    const p = peer(50);
    const defaulted = p.call("slow").catch((e: unknown) => e);
    const longer = p.call("slow", { timeoutMs: Infinity });
    expect(await defaulted).toMatchObject({ code: "ERR_DEADLINE_EXCEEDED", message: expect.stringContaining("no answer within 50 ms (callTimeoutMs)") });
    await settle(100);
    const call = p.received.find((m) => m.which === Which.Call && questionOf(m) !== questionOf(p.received[0]));
    p.answer(questionOf(call)!, 7);
    expect(await longer).toBe(7);
  });

  it("rejects an aborted call with ERR_ABORTED (an AbortError with the reason as cause) and sends Cancel", async () => {
    const p = peer();
    const controller = new AbortController();
    const pending = p.call("slow", { signal: controller.signal }).catch((e: unknown) => e);
    await settle();
    const reason = new Error("user went away");
    controller.abort(reason);
    const error = await pending;
    expect(error).toMatchObject({ name: "AbortError", code: "ERR_ABORTED", cause: reason });
    expect((error as Error).message).toBe(
      "Counter.slow: the call was aborted by its AbortSignal (Error: user went away). It was cancelled and may or may not have run; retry it if it is idempotent.",
    );
    await settle();
    expect(p.received.map((m) => m.which)).toEqual([Which.Call, Which.Cancel]);
  });

  it("does not send a call whose signal is already aborted", async () => {
    const p = peer();
    const error = await p.call("never", { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_ABORTED", message: expect.stringContaining("It was not sent") });
    await settle();
    expect(p.received).toEqual([]);
  });

  it("sends no Cancel for a call given up on before it was written", async () => {
    const p = peer();
    const controller = new AbortController();
    const pending = p.call("slow", { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(); // still waiting for the connection
    expect(await pending).toMatchObject({ code: "ERR_ABORTED", message: expect.stringContaining("It was not sent") });
    const next = p.call("next");
    await settle();
    expect(p.received.map((m) => (m.which === Which.Call ? m.method : m.which))).toEqual(["next"]);
    p.answer(questionOf(p.received[0])!, "ok");
    expect(await next).toBe("ok");
  });

  it("clears its timer and listener once answered", async () => {
    const p = peer();
    const controller = new AbortController();
    const pending = p.call("quick", { signal: controller.signal, timeoutMs: 60 });
    await settle();
    p.answer(questionOf(p.received[0])!, 1);
    expect(await pending).toBe(1);
    controller.abort();
    await settle(80);
    expect(p.received.map((m) => m.which)).toEqual([Which.Call]);
  });
});
