// One framed, multiplexed connection over a Pipe: batches every frame written during one event-loop
// turn into a single write, decodes and validates incoming frames, answers `ping` with `pong`, and
// closes (with a goodbye saying why) on a protocol error or a frame left incomplete too long.
import { decodeMessage } from "../wire/decode-message.ts";
import { ControlWhich, ProtocolError, Which, type Message } from "../wire/envelope.ts";
import { FrameWriter } from "../wire/frame-writer.ts";
import { FrameReader } from "../wire/frame-reader.ts";
import type { Pipe } from "./pipe.ts";

export interface FrameConnectionHandlers {
  message(message: Message): void;
  /** Called once. `error` is set when the connection failed (peer vanished, protocol error). */
  close(error: Error | undefined): void;
}

export interface FrameConnectionOptions {
  /** Largest frame read or written; see wire/limits.ts. */
  maxFrameBytes?: number | undefined;
  /**
   * A frame whose first bytes arrived this long ago and that is still incomplete closes the
   * connection. 0: no limit (a caller's connection to its own cluster's isolate, which may be busy).
   */
  partialFrameTimeoutMs?: number | undefined;
}

/**
 * A frame must arrive whole within this time of its first byte. Over a local socket a 64 MiB frame
 * takes milliseconds; a peer that holds a partial frame (slowloris) is holding memory and an fd.
 */
export const DEFAULT_PARTIAL_FRAME_TIMEOUT_MS = 10_000;

/**
 * Connections one isolate serves at once (callers hold one per process, so a cluster needs
 * 1 + hosts × isolates); past it a new connection is closed with a goodbye saying why.
 */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** Closes a connection this end will not serve, with a goodbye saying why (the peer sees the reason). */
export function refuseConnection(pipe: Pipe, reason: string): void {
  new FrameConnection(pipe, { message: () => {}, close: () => {} }).goodbye(reason);
}

export class FrameConnection {
  /** Frames written here go out together at the end of the current turn. Call flushSoon() after. */
  readonly writer: FrameWriter;
  readonly #pipe: Pipe;
  readonly #reader: FrameReader;
  readonly #partialFrameTimeoutMs: number;
  #flushScheduled = false;
  #closed = false;
  #closeError: Error | undefined;
  #partialSince = 0; // when the frame held now started arriving (0: none)
  #partialTimer: NodeJS.Timeout | undefined;

  constructor(pipe: Pipe, handlers: FrameConnectionHandlers, options: FrameConnectionOptions = {}) {
    this.#pipe = pipe;
    this.#partialFrameTimeoutMs = options.partialFrameTimeoutMs ?? DEFAULT_PARTIAL_FRAME_TIMEOUT_MS;
    // A batch that grows large is written out early, so no turn needs a buffer larger than a frame.
    this.writer = new FrameWriter(undefined, { maxFrameBytes: options.maxFrameBytes, spill: (batch) => void (this.#closed || pipe.write(batch)) });
    const reader = (this.#reader = new FrameReader((buf, start, end) => {
      if (this.#closed) return;
      this.#partialSince = 0; // a frame completed: the clock restarts with the next partial one
      const message = decodeMessage(buf, start, end);
      if (message.which === Which.Control && message.control === ControlWhich.Ping) return this.#pong(message.value);
      handlers.message(message);
    }, options.maxFrameBytes));
    pipe.attach({
      data: (chunk) => {
        if (this.#closed) return;
        try {
          reader.push(chunk);
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          return this.#protocolFailure(error);
        }
        if (reader.midFrame && this.#partialFrameTimeoutMs > 0) this.#watchPartial();
      },
      close: (error) => {
        this.#closed = true;
        clearTimeout(this.#partialTimer);
        const truncated = reader.midFrame ? new ProtocolError("connection closed in the middle of a frame") : undefined;
        handlers.close(this.#closeError ?? error ?? truncated);
      },
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Schedules one write of everything written to `writer` during this turn. */
  flushSoon(): void {
    if (this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  /** Writes everything written to `writer` so far, now. */
  flush(): void {
    this.#flush();
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#closed || this.writer.frames === 0) return;
    this.#pipe.write(this.writer.take());
  };

  /** Sends any pending frames, then closes. */
  end(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    clearTimeout(this.#partialTimer);
    this.#pipe.end();
  }

  destroy(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    clearTimeout(this.#partialTimer);
    this.#pipe.destroy();
  }

  /** Sends a goodbye saying why, then closes (after it is written). */
  goodbye(reason: string, error?: Error): void {
    if (this.#closed) return;
    this.writer.writeControl(ControlWhich.Goodbye, 0n, reason);
    this.#flush();
    this.#closed = true;
    this.#closeError = error;
    clearTimeout(this.#partialTimer);
    this.#pipe.end();
  }

  #pong(value: bigint): void {
    this.writer.writeControl(ControlWhich.Pong, value);
    this.flushSoon();
  }

  // A peer that sends garbage gets a goodbye saying why, then the connection is closed. Nothing else
  // on this process is affected.
  #protocolFailure(error: ProtocolError): void {
    this.goodbye(error.message, error);
  }

  // Called after every chunk that leaves a frame incomplete: notes when the frame began, and keeps
  // one timer per connection (armed lazily, never per chunk) to check on it.
  #watchPartial(): void {
    if (this.#partialSince === 0) this.#partialSince = Date.now();
    if (this.#partialTimer === undefined) this.#armPartialTimer(this.#partialFrameTimeoutMs);
  }

  #armPartialTimer(ms: number): void {
    this.#partialTimer = setTimeout(this.#checkPartial, ms);
    this.#partialTimer.unref();
  }

  readonly #checkPartial = (): void => {
    this.#partialTimer = undefined;
    if (this.#closed || this.#partialSince === 0) return;
    const age = Date.now() - this.#partialSince;
    if (age < this.#partialFrameTimeoutMs) return this.#armPartialTimer(this.#partialFrameTimeoutMs - age);
    // The event loop may have been busy: let bytes already waiting in the socket be read first.
    setImmediate(() => {
      if (this.#closed || this.#partialSince === 0 || Date.now() - this.#partialSince < this.#partialFrameTimeoutMs) {
        if (!this.#closed && this.#partialSince !== 0) this.#watchPartial();
        return;
      }
      const held = this.#reader.bufferedBytes;
      this.#protocolFailure(new ProtocolError(`a frame stayed incomplete for ${this.#partialFrameTimeoutMs} ms (${held} bytes received)`, "A frame must arrive whole within the partial-frame timeout"));
    });
  };
}
