// One framed, multiplexed connection over a Pipe: batches every frame written during one event-loop
// turn into a single write, decodes and validates incoming frames, and closes on a protocol error.
import { decodeMessage } from "../wire/decode-message.ts";
import { ControlWhich, ProtocolError, type Message } from "../wire/envelope.ts";
import { FrameWriter } from "../wire/frame-writer.ts";
import { FrameReader } from "../wire/frame-reader.ts";
import type { Pipe } from "./pipe.ts";

export interface FrameConnectionHandlers {
  message(message: Message): void;
  /** Called once. `error` is set when the connection failed (peer vanished, protocol error). */
  close(error: Error | undefined): void;
}

export class FrameConnection {
  /** Frames written here go out together at the end of the current turn. Call flushSoon() after. */
  readonly writer = new FrameWriter();
  readonly #pipe: Pipe;
  #flushScheduled = false;
  #closed = false;
  #closeError: Error | undefined;

  constructor(pipe: Pipe, handlers: FrameConnectionHandlers, maxFrameBytes?: number) {
    this.#pipe = pipe;
    const reader = new FrameReader((buf, start, end) => {
      if (!this.#closed) handlers.message(decodeMessage(buf, start, end));
    }, maxFrameBytes);
    pipe.attach({
      data: (chunk) => {
        if (this.#closed) return;
        try {
          reader.push(chunk);
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          this.#protocolFailure(error);
        }
      },
      close: (error) => {
        this.#closed = true;
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
    this.#pipe.end();
  }

  destroy(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#pipe.destroy();
  }

  // A peer that sends garbage gets a goodbye saying why, then the connection is closed. Nothing else
  // on this process is affected.
  #protocolFailure(error: ProtocolError): void {
    this.writer.writeControl(ControlWhich.Goodbye, 0n, error.message);
    this.#flush();
    this.#closed = true;
    this.#closeError = error;
    this.#pipe.end();
  }
}
