// The WebSocket bench's load generator, a child process of bench/websocket.ts (forked with IPC), so
// the clients' CPU is not the gateway's: it opens `ws` clients to the chat example's rooms, drives
// one scenario, and reports counts, delivery latencies and its own CPU time. Commands arrive as IPC
// messages { id, cmd, ... }; each gets { id, result } or { id, error }.
import WebSocket from "ws";

export type LoadCommand =
  | { cmd: "fanout"; wsOrigin: string; room: string; receivers: number; warmupMs: number; windowMs: number; inFlight: number; storage: boolean }
  | { cmd: "rooms"; wsOrigin: string; prefix: string; rooms: number; perRoom: number; warmupMs: number; windowMs: number }
  | { cmd: "idle-open"; wsOrigin: string; prefix: string; rooms: number; perRoom: number }
  | { cmd: "idle-check" }
  | { cmd: "idle-close" };

export interface TrafficResult {
  /** Chat messages received by clients inside the window (every receiver counts). */
  delivered: number;
  /** Chat messages sent inside the window. */
  sent: number;
  seconds: number;
  /** Delivery latency (send → receipt), ms, over the window's deliveries. */
  p50Ms: number;
  p99Ms: number;
  /** This process's CPU time over the window / wall time (1 = one core busy). */
  clientCpu: number;
  /** Sockets closed by the server during the run (should be 0). */
  closed: number;
  /** Filled in by bench/websocket.ts: CPU of each server process over the window (cores). */
  serverCpu?: Record<string, number>;
}

const now = () => performance.timeOrigin + performance.now(); // wall clock, sub-ms, comparable across processes
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TEXT = /"text":"(\d+) (\d+(?:\.\d+)?)"/;

/** Opens `count` sockets (at most 64 handshakes at a time); rejects on the first that fails. */
async function openMany(urls: string[], onMessage: (i: number, data: string) => void, onClose: () => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = new Array(urls.length);
  let next = 0;
  const one = async () => {
    while (next < urls.length) {
      const i = next++;
      const ws = new WebSocket(urls[i]!, { perMessageDeflate: false });
      ws.on("message", (data: Buffer) => onMessage(i, data.toString("utf8")));
      ws.on("close", onClose);
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", (e) => reject(new Error(`socket ${i} (${urls[i]}): ${e.message}`)));
        ws.once("unexpected-response", (_q, res) => reject(new Error(`socket ${i} (${urls[i]}): HTTP ${res.statusCode}`)));
      });
      sockets[i] = ws;
    }
  };
  await Promise.all(Array.from({ length: 64 }, one));
  return sockets;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

class Window {
  recording = false;
  /** Set before the generator closes its own sockets: later closes are not the server's doing. */
  finished = false;
  delivered = 0;
  sent = 0;
  closed = 0;
  #lat = new Float64Array(1 << 20);
  #n = 0;
  #t0 = 0;
  #cpu0 = 0;
  deliver(latency: number): void {
    if (!this.recording) return;
    this.delivered++;
    if (this.#n === this.#lat.length) {
      const bigger = new Float64Array(this.#lat.length * 2);
      bigger.set(this.#lat);
      this.#lat = bigger;
    }
    this.#lat[this.#n++] = latency;
  }
  start(): void {
    process.send?.({ event: "window-start" });
    this.recording = true;
    this.#t0 = performance.now();
    this.#cpu0 = cpu();
  }
  stop(): TrafficResult {
    process.send?.({ event: "window-stop" });
    this.recording = false;
    const seconds = (performance.now() - this.#t0) / 1000;
    const clientCpu = (cpu() - this.#cpu0) / 1000 / seconds;
    const sorted = this.#lat.slice(0, this.#n).sort();
    return { delivered: this.delivered, sent: this.sent, seconds, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), clientCpu, closed: this.closed };
  }
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => (ws.terminate(), resolve()), 3000);
          ws.once("close", () => (clearTimeout(timer), resolve()));
          ws.close(1000, "bench done");
        }),
    ),
  );
}

/** One room, `receivers` sockets, one sender keeping `inFlight` messages not yet seen by every receiver. */
async function fanout(c: Extract<LoadCommand, { cmd: "fanout" }>): Promise<TrafficResult> {
  const w = new Window();
  const pending = new Map<number, number>(); // seq → receivers still to see it
  let release: (() => void) | undefined;
  const onMessage = (_i: number, data: string) => {
    const m = TEXT.exec(data);
    if (m === null) return;
    w.deliver(now() - Number(m[2]));
    const seq = Number(m[1]);
    const left = (pending.get(seq) ?? 0) - 1;
    if (left > 0) pending.set(seq, left);
    else if (pending.delete(seq)) release?.();
  };
  // storage: the chat room (SQL insert per message); receivers share one user name, so joining costs
  // one presence frame each, not n join frames. Without: the suite's room, a broadcast and nothing else.
  const url = (user: string) => (c.storage ? `${c.wsOrigin}/room/${c.room}/ws?user=${user}` : `${c.wsOrigin}/t/${c.room}/ws`);
  const receivers = await openMany(Array.from({ length: c.receivers }, () => url("reader")), onMessage, () => w.finished || w.closed++);
  const [sender] = await openMany([url("writer")], () => {}, () => w.finished || w.closed++);
  const frame = (text: string) => JSON.stringify(c.storage ? { type: "message", text } : { op: "broadcast", text: JSON.stringify({ text }) });
  await sleep(200);
  let seq = 0;
  let stop = false;
  const pump = async () => {
    while (!stop) {
      while (pending.size >= c.inFlight) await new Promise<void>((r) => (release = r));
      const s = ++seq;
      pending.set(s, c.receivers);
      sender!.send(frame(`${s} ${now().toFixed(3)}`));
      if (w.recording) w.sent++;
    }
  };
  const pumping = pump();
  await sleep(c.warmupMs);
  w.start();
  await sleep(c.windowMs);
  const result = w.stop();
  stop = true;
  release?.();
  await Promise.race([pumping, sleep(5000)]);
  w.finished = true;
  await closeAll([...receivers, sender!]);
  return result;
}

/** `rooms` rooms × `perRoom` users; every user sends its next message when its previous one came back. */
async function manyRooms(c: Extract<LoadCommand, { cmd: "rooms" }>): Promise<TrafficResult> {
  const w = new Window();
  const urls: string[] = [];
  for (let r = 0; r < c.rooms; r++) for (let u = 0; u < c.perRoom; u++) urls.push(`${c.wsOrigin}/room/${c.prefix}${r}/ws?user=u${u}`);
  let running = false;
  let sockets: WebSocket[] = [];
  const seqs = new Int32Array(urls.length);
  const send = (i: number) => {
    sockets[i]!.send(JSON.stringify({ type: "message", text: `${++seqs[i]!} ${now().toFixed(3)}` }));
    if (w.recording) w.sent++;
  };
  const onMessage = (i: number, data: string) => {
    const m = TEXT.exec(data);
    if (m === null) return;
    w.deliver(now() - Number(m[2]));
    // Its own message back: the room has it, send the next one.
    if (running && Number(m[1]) === seqs[i] && data.includes(`"user":"u${i % c.perRoom}"`)) send(i);
  };
  sockets = await openMany(urls, onMessage, () => w.finished || w.closed++);
  await sleep(200);
  running = true;
  for (let i = 0; i < sockets.length; i++) send(i);
  await sleep(c.warmupMs);
  w.start();
  await sleep(c.windowMs);
  const result = w.stop();
  running = false;
  await sleep(200);
  w.finished = true;
  await closeAll(sockets);
  return result;
}

let idle: WebSocket[] = [];
let idleClosed = 0;
let idleClosing = false;

async function handle(c: LoadCommand): Promise<unknown> {
  switch (c.cmd) {
    case "fanout":
      return fanout(c);
    case "rooms":
      return manyRooms(c);
    case "idle-open": {
      const urls: string[] = [];
      for (let r = 0; r < c.rooms; r++) for (let u = 0; u < c.perRoom; u++) urls.push(`${c.wsOrigin}/room/${c.prefix}${r}/ws?user=idle`);
      idleClosed = 0;
      idleClosing = false;
      idle = await openMany(urls, () => {}, () => idleClosing || idleClosed++);
      return { open: idle.length };
    }
    case "idle-check": {
      // Every socket must still be open and answered: ping → pong (the auto-response, no object woken).
      const pongs = await Promise.all(
        idle.map(
          (ws) =>
            new Promise<boolean>((resolve) => {
              if (ws.readyState !== WebSocket.OPEN) return resolve(false);
              const timer = setTimeout(() => (ws.off("message", on), resolve(false)), 10_000);
              const on = (data: Buffer) => {
                if (data.toString() !== "pong") return;
                clearTimeout(timer);
                ws.off("message", on);
                resolve(true);
              };
              ws.on("message", on);
              ws.send("ping");
            }),
        ),
      );
      return { open: idle.filter((ws) => ws.readyState === WebSocket.OPEN).length, ponged: pongs.filter(Boolean).length, closedByServer: idleClosed };
    }
    case "idle-close":
      idleClosing = true;
      await closeAll(idle);
      idle = [];
      return { closed: true };
    default:
      throw new Error(`unknown command ${JSON.stringify(c)}`);
  }
}

process.on("message", (message: { id: number } & LoadCommand) => {
  handle(message).then(
    (result) => process.send!({ id: message.id, result }),
    (error: unknown) => process.send!({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));
