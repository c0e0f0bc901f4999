// Hostile peers against a live isolate socket (issue 9, item 8): 20 000 random and mutated frames,
// 1000 connections that declare 64 MiB frames and send 16 bytes (amplification, then slowloris),
// and connections past the limit. Asserts no crash, bounded host memory and fds, valid calls served.
// Reproduce a run with SOURDOUGH_FUZZ_SEED=<seed printed on failure>.
import { readFileSync, readdirSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeMessage } from "../../runtime/wire/decode-message.ts";
import { CallKind, ControlWhich, type Message } from "../../runtime/wire/envelope.ts";
import { FrameReader } from "../../runtime/wire/frame-reader.ts";
import { FrameWriter } from "../../runtime/wire/frame-writer.ts";
import { encodePayload } from "../../runtime/wire/payload.ts";
import { TestCounter } from "../fixtures/objects.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";
import { prng } from "../codegen/support/values.ts";

const SEED = Number(process.env["SOURDOUGH_FUZZ_SEED"] ?? Date.now() % 1_000_000_007);
const FRAMES = 20_000;
const MiB = 1024 * 1024;


function hostStats(pid: number): { fds: number; rssMb: number; vmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { fds: readdirSync(`/proc/${pid}/fd`).length, rssMb: kb("VmRSS") / 1024, vmMb: kb("VmSize") / 1024 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw connection that records the frames it receives and when it closed. */
interface Raw {
  socket: net.Socket;
  received: Message[];
  closed: Promise<void>;
  isClosed: () => boolean;
}
async function connectRaw(path: string): Promise<Raw> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await connectOnce(path);
    } catch (error) {
      // A full listen backlog (EAGAIN on a Unix socket) while the isolate accepts the others.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || attempt > 50) throw error;
      await sleep(10);
    }
  }
}

function connectOnce(path: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const received: Message[] = [];
    const reader = new FrameReader((buf, s, e) => {
      try {
        received.push(decodeMessage(buf, s, e));
      } catch {
        // the isolate's answers to fuzz may carry fuzz; only goodbyes matter here
      }
    });
    let closed = false;
    const done = new Promise<void>((r) => socket.once("close", () => ((closed = true), r())));
    socket.on("data", (chunk) => {
      try {
        reader.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.once("connect", () => resolve({ socket, received, closed: done, isClosed: () => closed }));
    socket.once("error", reject);
  });
}

const goodbyeOf = (raw: Raw) => raw.received.find((m) => m.which === 4 && m.control === ControlWhich.Goodbye) as { reason?: string } | undefined;

describe("wire fuzz against a live isolate", () => {
  let cluster: TestCluster;
  let socketPath: string;
  let hostPid: number;
  let isolateThread: number;
  const ids: string[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1 });
    const ns = cluster.coordinator.namespace(TestCounter);
    for (const name of ["f0", "f1", "f2", "valid"]) {
      const id = ns.idFromName(name);
      ids.push(id.toString());
      await ns.get(id).increment(1); // activated (and its database open) before any baseline
    }
    socketPath = cluster.coordinator.locate(TestCounter, ns.idFromName("valid"))!.socketPath;
    hostPid = cluster.coordinator.hosts[0]!.pid!;
    isolateThread = (await ns.getByName("valid").whereAmI()).threadId;
  });
  afterAll(() => cluster?.close());

  // A well-behaved caller on its own connection (the coordinator's), calling throughout.
  function keepCalling(): () => Promise<{ calls: number; failures: unknown[]; worstMs: number }> {
    const stub = cluster.coordinator.namespace(TestCounter).getByName("valid");
    let running = true;
    const failures: unknown[] = [];
    let calls = 0;
    let worstMs = 0;
    const loop = (async () => {
      while (running) {
        const started = performance.now();
        try {
          await stub.touch();
          calls++;
        } catch (error) {
          failures.push(error);
        }
        worstMs = Math.max(worstMs, performance.now() - started);
        await sleep(5);
      }
    })();
    return async () => {
      running = false;
      await loop;
      return { calls, failures, worstMs };
    };
  }

  async function expectIsolateIntact(): Promise<void> {
    expect(cluster.coordinator.hosts[0]!.pid, "host process replaced").toBe(hostPid);
    expect((await cluster.coordinator.namespace(TestCounter).getByName("valid").whereAmI()).threadId, "isolate replaced").toBe(isolateThread);
  }

  async function fdsBackTo(baseline: number): Promise<number> {
    let fds = hostStats(hostPid).fds;
    for (let i = 0; i < 100 && fds > baseline; i++) {
      await sleep(50);
      fds = hostStats(hostPid).fds;
    }
    return fds;
  }

  it(`serves valid calls through ${FRAMES} random and mutated frames (seed ${SEED})`, { timeout: 60_000 }, async () => {
    const random = prng(SEED);
    const int = (n: number) => Math.floor(random() * n);
    const valid = (): Buffer => {
      const w = new FrameWriter();
      const q = int(1000);
      switch (int(6)) {
        case 0:
          w.writeCall(q, CallKind.Method, 0, "TestCounter", ids[int(3)]!, ["touch", "whereAmI", "nope", "echo"][int(4)]!, encodePayload([int(100)], "fuzz"), undefined);
          break;
        case 1:
          w.writeReturn(q, encodePayload({ x: int(10) }, "fuzz"));
          break;
        case 2:
          w.writeException(q, random() < 0.5, "Error", "boom", "E_FUZZ", undefined);
          break;
        case 3:
          w.writeCancel(q);
          break;
        case 4:
          w.writeControl(ControlWhich.Ping, BigInt(q));
          break;
        default:
          w.writeCall(q, CallKind.Fetch, 0, "TestCounter", ids[int(3)]!, "", encodePayload({ url: "http://x/" }, "fuzz"), undefined);
      }
      return Buffer.from(w.take());
    };
    const frame = (): Buffer => {
      const r = random();
      if (r < 0.15) return Buffer.from(Array.from({ length: 1 + int(200) }, () => int(256)));
      const f = valid();
      if (r < 0.35) return f;
      if (r < 0.5) return f.subarray(0, int(f.length)); // truncated
      if (r < 0.6) {
        f.writeUInt32LE(int(2 ** 32), int(2) * 4); // segment count or size replaced
        return f;
      }
      for (let k = 1 + int(4); k > 0; k--) f[8 + int(f.length - 8)] = int(256); // flipped bytes in the message
      return f;
    };
    const stop = keepCalling();
    const before = hostStats(hostPid);
    let sent = 0;
    let peakRss = before.rssMb;
    // The isolate closes a connection at its first bad frame, so each connection carries a few
    // valid frames and then one fuzzed one: every fuzzed frame is parsed.
    const connection = async (): Promise<void> => {
      const raw = await connectRaw(socketPath);
      const bytes = Buffer.concat([...Array.from({ length: int(3) }, valid), frame()]);
      sent++;
      raw.socket.end(bytes);
      await Promise.race([raw.closed, sleep(5_000)]);
      raw.socket.destroy();
    };
    while (sent < FRAMES) {
      await Promise.all(Array.from({ length: 50 }, connection));
      if (sent % 1000 === 0) peakRss = Math.max(peakRss, hostStats(hostPid).rssMb);
    }
    const served = await stop();
    expect(served.failures, `seed ${SEED}`).toEqual([]);
    expect(served.calls).toBeGreaterThan(10);
    expect(served.worstMs, `seed ${SEED}`).toBeLessThan(5_000);
    await expectIsolateIntact();
    expect(await fdsBackTo(before.fds), `host fds after fuzz (seed ${SEED})`).toBeLessThanOrEqual(before.fds + 2);
    expect(peakRss - before.rssMb, `host RSS growth in MB (seed ${SEED})`).toBeLessThan(300);
  });

  it("holds 1000 connections declaring 64 MiB frames at what they sent, then closes them (slowloris)", { timeout: 60_000 }, async () => {
    const stop = keepCalling();
    const before = hostStats(hostPid);
    const raws: Raw[] = [];
    for (let i = 0; i < 1000; i += 100) {
      raws.push(...(await Promise.all(Array.from({ length: 100 }, () => connectRaw(socketPath)))));
    }
    const header = Buffer.alloc(16);
    header.writeUInt32LE(8 * MiB - 1, 4); // declares 64 MiB; 8 bytes of it follow
    for (const raw of raws) raw.socket.write(header);
    await sleep(1_000);
    const holding = hostStats(hostPid);
    expect(raws.filter((r) => r.isClosed()).length, "connections closed before the timeout").toBe(0);
    // Declared: 1000 × 64 MiB. Held: what arrived, plus a socket's cost in the kernel and Node.
    expect(holding.vmMb - before.vmMb, "host virtual memory growth in MB").toBeLessThan(1024);
    expect(holding.rssMb - before.rssMb, "host RSS growth in MB").toBeLessThan(150);
    expect(holding.fds - before.fds).toBeGreaterThanOrEqual(1000);
    // The partial-frame timeout (10 s from the first byte) closes them all, with a goodbye saying why.
    await Promise.race([Promise.all(raws.map((r) => r.closed)), sleep(20_000)]);
    expect(raws.filter((r) => !r.isClosed()).length, "connections still open 20 s later").toBe(0);
    expect(goodbyeOf(raws[0]!)?.reason).toMatch(/^sourdough wire: a frame stayed incomplete for 10000 ms \(16 bytes received\)\. A frame must arrive whole within the partial-frame timeout; the connection was closed\.$/);
    const served = await stop();
    expect(served.failures).toEqual([]);
    expect(served.worstMs).toBeLessThan(5_000);
    await expectIsolateIntact();
    expect(await fdsBackTo(before.fds), "host fds after the slowloris connections closed").toBeLessThanOrEqual(before.fds + 2);
  });

  it("closes connections past 1024 at once with a goodbye, serving the others", { timeout: 60_000 }, async () => {
    const stop = keepCalling();
    const before = hostStats(hostPid);
    const raws: Raw[] = [];
    for (let i = 0; i < 1100; i += 100) {
      raws.push(...(await Promise.all(Array.from({ length: 100 }, () => connectRaw(socketPath)))));
    }
    await sleep(500);
    const refused = raws.filter((r) => r.isClosed());
    // The coordinator's connection (and any other caller's) counts too.
    expect(refused.length).toBeGreaterThanOrEqual(1100 - 1024);
    expect(refused.length).toBeLessThanOrEqual(1100 - 1024 + 5);
    expect(goodbyeOf(refused[0]!)?.reason).toMatch(/^host 0 isolate 0 already serves 1024 connections \(the most it accepts\), so this one was closed\./);
    const open = raws.find((r) => !r.isClosed())!;
    open.socket.write((() => {
      const w = new FrameWriter();
      w.writeControl(ControlWhich.Ping, 7n);
      return w.take();
    })());
    await sleep(200);
    expect(open.received).toMatchObject([{ control: ControlWhich.Pong, value: 7n }]);
    for (const r of raws) r.socket.destroy();
    const served = await stop();
    expect(served.failures).toEqual([]);
    await expectIsolateIntact();
    expect(await fdsBackTo(before.fds), "host fds after the clients left").toBeLessThanOrEqual(before.fds + 2);
  });
});
