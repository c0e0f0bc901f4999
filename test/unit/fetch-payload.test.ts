// Which Request and Response bodies stub.fetch() sends inline and which as a stream (the streams
// themselves are tested end to end in test/integration/fetch-streams.test.ts).
import { describe, expect, it } from "vitest";
import { AT_HAND_INLINE_BYTES, INLINE_BODY_BYTES, inlineLimit, requestToWire, responseToWire } from "../../runtime/wire/fetch-payload.ts";
import { encodePayload } from "../../runtime/wire/payload.ts";

const KiB = 1024;
/** A stream whose chunks arrive over time (a timer each), as from a socket. */
function trickle(chunks: number, size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    async pull(c) {
      await new Promise((r) => setTimeout(r, 5));
      if (sent++ === chunks) return c.close();
      c.enqueue(new Uint8Array(size).fill(sent));
    },
  });
}
const kind = (body: unknown) => (body instanceof Uint8Array ? `inline ${body.byteLength}` : body instanceof ReadableStream ? "stream" : String(body));
async function drain(body: unknown): Promise<number> {
  let n = 0;
  if (body instanceof ReadableStream) for await (const c of body as ReadableStream<Uint8Array>) n += c.byteLength;
  return n;
}

describe("fetch payloads: inline or streamed bodies", () => {
  it.each([
    { given: "no body (GET)", request: () => new Request("http://x/"), want: "null" },
    { given: "a short text", request: () => new Request("http://x/", { method: "POST", body: "hello" }), want: "inline 5" },
    { given: "1 MiB of bytes in memory", request: () => new Request("http://x/", { method: "POST", body: new Uint8Array(AT_HAND_INLINE_BYTES) }), want: `inline ${AT_HAND_INLINE_BYTES}` },
    { given: "1 MiB + 1 in memory", request: () => new Request("http://x/", { method: "POST", body: new Uint8Array(AT_HAND_INLINE_BYTES + 1) }), want: "stream" },
    { given: "a slow stream of unknown length", request: () => new Request("http://x/", { method: "POST", body: trickle(3, 10), duplex: "half" } as RequestInit), want: "stream" },
    {
      given: "a slow stream with a small Content-Length (read whole)",
      request: () => new Request("http://x/", { method: "POST", body: trickle(3, 10), headers: { "content-length": "30" }, duplex: "half" } as RequestInit),
      want: "inline 30",
    },
    {
      given: "a declared length over 1 MiB (not read ahead)",
      request: () => new Request("http://x/", { method: "POST", body: trickle(1, 10), headers: { "content-length": String(2 * AT_HAND_INLINE_BYTES) }, duplex: "half" } as RequestInit),
      want: "stream",
    },
  ])("request: $given → $want", async ({ request, want }) => {
    const wire = await requestToWire(request());
    expect(kind(wire.body)).toBe(want);
  });

  it("a streamed request body keeps every byte, the peeked start first", async () => {
    const wire = await requestToWire(new Request("http://x/", { method: "POST", body: trickle(20, 10 * KiB), duplex: "half" } as RequestInit));
    expect(await drain(wire.body)).toBe(200 * KiB);
  });

  it("a response whole in memory over 1 MiB is streamed with its length; a slow one without", async () => {
    const big = await responseToWire(new Response(new Uint8Array(3 * AT_HAND_INLINE_BYTES)));
    expect(kind(big.body)).toBe("stream");
    expect(big.length).toBe(3 * AT_HAND_INLINE_BYTES);
    expect(await drain(big.body)).toBe(3 * AT_HAND_INLINE_BYTES);
    const slow = await responseToWire(new Response(trickle(4, KiB)));
    expect(kind(slow.body)).toBe("stream");
    expect(slow.length).toBeUndefined();
    expect(await drain(slow.body)).toBe(4 * KiB);
    expect(kind((await responseToWire(Response.json({ a: 1 }))).body)).toBe("inline 7");
    expect((await responseToWire(new Response(null, { status: 204 }))).body).toBeNull();
  });

  it("a body that fails after its start still answers, and fails where it failed", async () => {
    let n = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ === 2) return c.error(new RangeError("broke"));
        c.enqueue(new Uint8Array(KiB));
      },
    });
    const wire = await responseToWire(new Response(failing));
    expect(kind(wire.body)).toBe("stream");
    await expect(drain(wire.body)).rejects.toThrow("broke");
  });

  describe("the call's limit (maxCallBytes) caps what goes inline", () => {
    const limit = 256 * KiB;
    it("a 600 KiB body in memory streams (with its length) under a 256 KiB limit, and goes inline under the default", async () => {
      const body = () => new Uint8Array(600 * KiB).fill(7);
      const capped = await requestToWire(new Request("http://x/", { method: "POST", body: body() }), limit);
      expect(kind(capped.body)).toBe("stream");
      expect(await drain(capped.body)).toBe(600 * KiB);
      const response = await responseToWire(new Response(body()), undefined, limit);
      expect(kind(response.body)).toBe("stream");
      expect(response.length).toBe(600 * KiB);
      expect(await drain(response.body)).toBe(600 * KiB);
      expect(kind((await requestToWire(new Request("http://x/", { method: "POST", body: body() }))).body)).toBe(`inline ${600 * KiB}`);
    });

    it("a body just under the inline limit goes inline and its record fits the call; one byte more streams", async () => {
      const headers = { "x-long": "h".repeat(3000), "content-type": "application/octet-stream" };
      const url = `http://x/${"p".repeat(2000)}`;
      const at = inlineLimit(limit, url, new Headers(headers));
      expect(at).toBeLessThan(limit - 5000);
      const fits = await requestToWire(new Request(url, { method: "POST", headers, body: new Uint8Array(at) }), limit);
      expect(kind(fits.body)).toBe(`inline ${at}`);
      expect(() => encodePayload(fits, "test request", limit)).not.toThrow();
      const over = await requestToWire(new Request(url, { method: "POST", headers, body: new Uint8Array(at + 1) }), limit);
      expect(kind(over.body)).toBe("stream");
    });

    it("a declared small length is read whole only within the limit; a tiny limit streams every non-empty body", async () => {
      const declared = await requestToWire(new Request("http://x/", { method: "POST", body: trickle(3, 10), headers: { "content-length": "30" }, duplex: "half" } as RequestInit), 1024);
      expect(kind(declared.body)).toBe("stream"); // 1 KiB leaves no room past the record's headroom
      expect(await drain(declared.body)).toBe(30);
      expect(inlineLimit(1024, "http://x/", new Headers())).toBe(0);
      expect(inlineLimit(undefined, "http://x/", new Headers())).toBe(AT_HAND_INLINE_BYTES);
      expect(inlineLimit(32 * 1024 * KiB, "http://x/", new Headers())).toBe(AT_HAND_INLINE_BYTES);
      expect(INLINE_BODY_BYTES).toBeLessThan(limit);
      expect(kind((await requestToWire(new Request("http://x/", { method: "POST", body: "" }), 1024)).body)).toBe("inline 0");
    });
  });
});
