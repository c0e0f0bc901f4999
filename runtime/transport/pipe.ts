// The byte-pipe seam under every connection: a Unix socket in production, an in-memory pair for
// `hostCount: 0`. Both deliver bytes asynchronously and never share a buffer the sender will reuse.
import type { Socket } from "node:net";

export interface PipeHandlers {
  data(chunk: Buffer): void;
  /** Called once, when the pipe is closed from either side; `error` when it failed. */
  close(error: Error | undefined): void;
}

export interface Pipe {
  /** Queues bytes; the caller must not modify them afterwards. */
  write(bytes: Buffer): void;
  /** Closes after queued bytes are delivered. */
  end(): void;
  /** Closes now, dropping queued bytes. */
  destroy(error?: Error): void;
  attach(handlers: PipeHandlers): void;
}

/** How long an ended socket may take to hand its last bytes to a peer before it is destroyed. */
const END_GRACE_MS = 2_000;

export function socketPipe(socket: Socket): Pipe {
  return {
    write: (bytes) => void socket.write(bytes),
    // Closes the fd once what was queued is written; a peer that reads nothing cannot hold it open.
    end: () => {
      socket.destroySoon();
      setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
    },
    destroy: (error) => void socket.destroy(error),
    attach(handlers) {
      let failure: Error | undefined;
      socket.on("data", handlers.data);
      socket.on("error", (error) => (failure = error));
      socket.on("close", () => handlers.close(failure));
    },
  };
}

/** Two connected in-memory pipes. Delivery happens on a later turn, as on a socket. */
export function memoryPipePair(): [Pipe, Pipe] {
  const a = new MemoryPipe();
  const b = new MemoryPipe();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class MemoryPipe implements Pipe {
  peer: MemoryPipe | undefined;
  #handlers: PipeHandlers | undefined;
  #inbox: Buffer[] = [];
  #closed = false;
  #scheduled = false;

  attach(handlers: PipeHandlers): void {
    this.#handlers = handlers;
    if (this.#inbox.length > 0) this.#schedule();
  }

  write(bytes: Buffer): void {
    if (this.#closed || this.peer === undefined) return;
    this.peer.#receive(bytes);
  }

  end(): void {
    this.#shutdown(undefined);
  }

  destroy(error?: Error): void {
    this.#shutdown(error);
  }

  #shutdown(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const peer = this.peer;
    setImmediate(() => {
      this.#handlers?.close(error);
      if (peer !== undefined) peer.#shutdown(undefined);
    });
  }

  #receive(bytes: Buffer): void {
    if (this.#closed) return;
    this.#inbox.push(bytes);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#handlers === undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const chunks = this.#inbox;
      this.#inbox = [];
      for (const chunk of chunks) {
        if (this.#closed) return;
        this.#handlers?.data(chunk);
      }
    });
  }
}
