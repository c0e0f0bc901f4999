/**
 * "Physical limit" baseline for the RPC benchmarks: a raw Unix-domain-socket echo
 * between two Node processes, no RPC framing/serialization on top.
 *
 * The echo server runs in a child process (./raw-echo-server.ts, started with
 * `node --import tsx`), listens on `<runDir>/echo.sock` and echoes length-prefixed
 * frames back. This process is the client.
 *
 * Wire format: 4-byte little-endian payload length + payload. Every client frame is
 * 64 bytes on the wire: the 4-byte length prefix + a 60-byte payload (the first 4
 * payload bytes carry a little-endian sequence number, used to check that every reply
 * comes back, in order; the other 56 bytes are a constant pattern).
 *
 * Both sides batch per event-loop turn: frames produced during a turn are queued and
 * flushed with one `socket.write` from a `setImmediate` callback. Send buffers are
 * allocated once per flush (not per frame); replies are parsed in place.
 *
 * - Sequential: `sequentialCalls` (default 20000) round trips one at a time after a
 *   2000-call warm-up; RTT is measured from the moment a frame is queued to the moment
 *   its reply is parsed (process.hrtime.bigint()), reported as p50/p99 in µs.
 * - Pipelined: for each level of `inFlight` (default [1, 16, 256]) exactly that many
 *   frames are kept outstanding (a new one is queued for every reply; the sends of a
 *   turn are flushed together) for `pipelinedMs` (default 1500) after a 300 ms
 *   warm-up; reported as frames (round trips) per second.
 *
 * CLI: `node --import tsx bench/raw-echo.ts` prints the EchoResult as JSON.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FrameCarry, HEADER_BYTES, completeFrameLength } from "./echo-frames.ts";

export interface EchoResult {
  rttP50Us: number;
  rttP99Us: number;
  /** in-flight -> frames/s */
  throughput: Record<number, number>;
}

export interface RawEchoOptions {
  runDir: string;
  sequentialCalls?: number;
  pipelinedMs?: number;
  inFlight?: number[];
}

const PAYLOAD_BYTES = 60;
const FRAME_BYTES = HEADER_BYTES + PAYLOAD_BYTES; // 64 bytes on the wire

const SEQUENTIAL_WARMUP = 2000;
const PIPELINED_WARMUP_MS = 300;

const SERVER_READY_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 5_000;
/** Upper bound for the whole sequential phase (warm-up + measured calls). */
const SEQUENTIAL_BUDGET_MS_BASE = 10_000;
const SEQUENTIAL_BUDGET_US_PER_CALL = 500;
/** After a pipelined level's window closes, outstanding frames must drain within this. */
const DRAIN_TIMEOUT_MS = 5_000;
const CHILD_EXIT_TIMEOUT_MS = 3_000;

const here = path.dirname(fileURLToPath(import.meta.url));
const serverPath = path.join(here, "raw-echo-server.ts");
const repoRoot = path.resolve(here, "..");

/** Frame template: length prefix + payload pattern; the sequence number is patched in. */
const FRAME_TEMPLATE: Buffer = (() => {
  const t = Buffer.alloc(FRAME_BYTES);
  t.writeUInt32LE(PAYLOAD_BYTES, 0);
  for (let i = HEADER_BYTES + 4; i < FRAME_BYTES; i++) t[i] = i & 0xff;
  return t;
})();

/** Minimal client: batched sends of 64-byte frames, in-place parsing of replies. */
class EchoClient {
  /** Called once per reply frame with its sequence number. */
  onReply: (seq: number) => void = () => {};
  /** Called if the connection fails or closes unexpectedly. */
  onFailure: (err: Error) => void = () => {};

  private readonly carry = new FrameCarry();
  private readonly queue: number[] = [];
  private flushScheduled = false;
  private closing = false;

  constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err: Error) => {
      if (!this.closing) this.onFailure(err);
    });
    socket.on("close", () => {
      if (!this.closing) this.onFailure(new Error("echo connection closed unexpectedly"));
    });
  }

  /** Queue one frame; all frames queued in this turn are written together. */
  send(seq: number): void {
    this.queue.push(seq);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  close(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const n = this.queue.length;
    if (n === 0 || this.closing) {
      this.queue.length = 0;
      return;
    }
    const buf = Buffer.allocUnsafe(n * FRAME_BYTES);
    for (let i = 0, off = 0; i < n; i++, off += FRAME_BYTES) {
      FRAME_TEMPLATE.copy(buf, off);
      buf.writeUInt32LE((this.queue[i] as number) >>> 0, off + HEADER_BYTES);
    }
    this.queue.length = 0;
    this.socket.write(buf);
  };

  private onData(chunk: Buffer): void {
    const buf = this.carry.join(chunk);
    let off = 0;
    for (let len = completeFrameLength(buf, 0); len >= 0; len = completeFrameLength(buf, off)) {
      if (len < 4) {
        this.onFailure(new Error(`echo reply too short (${len} bytes)`));
        return;
      }
      const seq = buf.readUInt32LE(off + HEADER_BYTES);
      off += HEADER_BYTES + len;
      this.onReply(seq);
    }
    this.carry.keep(buf, off);
  }
}

function withTimeout<T>(what: string, ms: number, run: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new Error(`${what} timed out after ${ms} ms`));
    }, ms);
    run(
      (v: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(v);
      },
      (e: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function startServer(socketPath: string): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ["--import", "tsx", serverPath, socketPath], {
    cwd: repoRoot, // so that `--import tsx` resolves against this package's node_modules
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = withTimeout<void>("echo server start", SERVER_READY_TIMEOUT_MS, (resolve, reject) => {
    let out = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (s: string) => {
      out += s;
      if (out.split("\n").includes("ready")) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      reject(new Error(`echo server exited before ready (code ${String(code)}, signal ${String(signal)})`));
    });
  });
  return { child, ready };
}

async function stopServer(child: ChildProcess): Promise<void> {
  child.stdout?.destroy();
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), CHILD_EXIT_TIMEOUT_MS);
  });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    child.kill("SIGKILL");
    await withTimeout<void>("echo server SIGKILL", CHILD_EXIT_TIMEOUT_MS, (resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    }).catch(() => undefined);
  }
}

function connect(socketPath: string): Promise<net.Socket> {
  return withTimeout<net.Socket>("echo connect", CONNECT_TIMEOUT_MS, (resolve, reject) => {
    const s = net.createConnection(socketPath);
    s.once("connect", () => {
      s.removeListener("error", reject);
      resolve(s);
    });
    s.once("error", (e: Error) => {
      s.destroy();
      reject(e);
    });
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx] as number;
}

/** Sequential round trips; returns RTT samples in µs (sorted). */
function runSequential(client: EchoClient, calls: number, warmup: number): Promise<Float64Array> {
  const total = warmup + calls;
  const samples = new Float64Array(calls);
  const budget = SEQUENTIAL_BUDGET_MS_BASE + Math.ceil((total * SEQUENTIAL_BUDGET_US_PER_CALL) / 1000);
  return withTimeout<Float64Array>("sequential phase", budget, (resolve, reject) => {
    let i = 0;
    let t0 = 0n;
    client.onFailure = reject;
    client.onReply = (seq: number) => {
      const t1 = process.hrtime.bigint();
      if (seq !== i) {
        reject(new Error(`sequential: expected reply ${i}, got ${seq}`));
        return;
      }
      if (i >= warmup) samples[i - warmup] = Number(t1 - t0) / 1000;
      i++;
      if (i === total) {
        client.onReply = () => {};
        resolve(samples.sort());
        return;
      }
      t0 = process.hrtime.bigint();
      client.send(i);
    };
    t0 = process.hrtime.bigint();
    client.send(0);
  });
}

/** Keeps exactly `inFlight` frames outstanding; returns replies per second in the window. */
function runPipelined(client: EchoClient, inFlight: number, warmupMs: number, measureMs: number, firstSeq: number): Promise<{ rate: number; nextSeq: number }> {
  const budget = warmupMs + measureMs + DRAIN_TIMEOUT_MS;
  return withTimeout<{ rate: number; nextSeq: number }>(`pipelined phase (${inFlight} in flight)`, budget, (resolve, reject) => {
    let nextSeq = firstSeq;
    let expected = firstSeq;
    let outstanding = 0;
    let measuring = false;
    let stopping = false;
    let count = 0;
    let tStart = 0n;
    let rate = 0;
    const timers: NodeJS.Timeout[] = [];
    const fail = (e: Error): void => {
      for (const t of timers) clearTimeout(t);
      reject(e);
    };
    client.onFailure = fail;
    client.onReply = (seq: number) => {
      if (seq !== expected >>> 0) {
        fail(new Error(`pipelined: expected reply ${expected >>> 0}, got ${seq}`));
        return;
      }
      expected++;
      outstanding--;
      if (measuring) count++;
      if (!stopping) {
        client.send(nextSeq++);
        outstanding++;
      } else if (outstanding === 0) {
        client.onReply = () => {};
        resolve({ rate, nextSeq });
      }
    };
    timers.push(
      setTimeout(() => {
        measuring = true;
        count = 0;
        tStart = process.hrtime.bigint();
        timers.push(
          setTimeout(() => {
            const elapsedNs = process.hrtime.bigint() - tStart;
            measuring = false;
            stopping = true;
            rate = count / (Number(elapsedNs) / 1e9);
            if (outstanding === 0) resolve({ rate, nextSeq });
          }, measureMs),
        );
      }, warmupMs),
    );
    for (let k = 0; k < inFlight; k++) {
      client.send(nextSeq++);
      outstanding++;
    }
  });
}

export async function measureRawEcho(opts: RawEchoOptions): Promise<EchoResult> {
  const sequentialCalls = opts.sequentialCalls ?? 20_000;
  const pipelinedMs = opts.pipelinedMs ?? 1500;
  const inFlight = opts.inFlight ?? [1, 16, 256];
  if (!Number.isInteger(sequentialCalls) || sequentialCalls < 1) throw new Error("sequentialCalls must be a positive integer");
  for (const k of inFlight) if (!Number.isInteger(k) || k < 1) throw new Error(`invalid in-flight level ${k}`);

  const socketPath = path.join(opts.runDir, "echo.sock");
  const { child, ready } = startServer(socketPath);
  let client: EchoClient | undefined;
  try {
    await ready;
    client = new EchoClient(await connect(socketPath));

    const samples = await runSequential(client, sequentialCalls, SEQUENTIAL_WARMUP);
    const result: EchoResult = {
      rttP50Us: round(percentile(samples, 0.5), 2),
      rttP99Us: round(percentile(samples, 0.99), 2),
      throughput: {},
    };

    let seq = SEQUENTIAL_WARMUP + sequentialCalls;
    for (const k of inFlight) {
      const { rate, nextSeq } = await runPipelined(client, k, PIPELINED_WARMUP_MS, pipelinedMs, seq);
      seq = nextSeq;
      result.throughput[k] = Math.round(rate);
    }
    return result;
  } finally {
    client?.close();
    await stopServer(child);
    try {
      fs.unlinkSync(socketPath);
    } catch {
      // removed by the server already
    }
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "raw-echo-"));
  try {
    const result = await measureRawEcho({ runDir });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}
