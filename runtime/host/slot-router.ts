// Routes calls of a cluster member (coordinator or isolate) to the slot that owns each object: one
// RpcClient per slot, over the slot's Unix socket, or over an in-memory pipe for the caller's own slot.
import net from "node:net";
import { ErrorCode, SourdoughError } from "../errors.ts";
import type { CodecTable } from "../rpc/generated.ts";
import { RpcClient, type Dial, type OutputGate, type WebSocketPeer } from "../rpc/rpc-client.ts";
import { slotFor } from "../rpc/placement.ts";
import type { ClientRouter } from "../rpc/stub.ts";
import { memoryPipePair, socketPipe, type Pipe } from "../transport/pipe.ts";
import { slotAddress, slotCount, socketPath, type ClusterConfig } from "./cluster-config.ts";
import { readSlotDown } from "./slot-down.ts";

export interface SlotRouterOptions {
  config: ClusterConfig;
  /** Generated codecs the stubs made through this router use. */
  codecs: CodecTable;
  /** The caller's own slot and how to serve a pipe there, so self-calls skip the socket. */
  self?: { slot: number; serve(pipe: Pipe): void };
  /** In an isolate: calls made by its objects wait for their writes to commit. */
  outputGate?: OutputGate;
  /** In serve()'s process: the WebSocket gateway, once it exists. */
  webSockets?: () => WebSocketPeer | undefined;
}

export class SlotRouter implements ClientRouter {
  readonly #config: ClusterConfig;
  readonly #clients: Array<RpcClient | undefined>;
  readonly #self: SlotRouterOptions["self"];
  readonly #outputGate: OutputGate | undefined;
  readonly #webSockets: SlotRouterOptions["webSockets"];
  readonly #slots: number;
  readonly codecs: CodecTable;
  readonly clusterId: string;
  #closed = false;

  constructor(options: SlotRouterOptions) {
    this.#config = options.config;
    this.codecs = options.codecs;
    this.clusterId = options.config.runDir;
    this.#self = options.self;
    this.#outputGate = options.outputGate;
    this.#webSockets = options.webSockets;
    this.#slots = slotCount(options.config);
    this.#clients = new Array<RpcClient | undefined>(this.#slots);
  }

  /** The slot that owns (namespace, object id). */
  slotOf(namespace: string, objectIdHex: string): number {
    return slotFor(namespace, objectIdHex, this.#slots);
  }

  clientFor(namespace: string, objectIdHex: string): RpcClient {
    if (this.#closed) throw new SourdoughError(ErrorCode.CLOSED, `${namespace}: the cluster was closed. Start a new ClusterCoordinator.`);
    const slot = this.slotOf(namespace, objectIdHex);
    return this.#clients[slot] ?? this.#open(slot);
  }

  close(): void {
    this.#closed = true;
    for (const client of this.#clients) client?.close("the cluster was closed");
    this.#clients.fill(undefined);
  }

  #open(slot: number): RpcClient {
    const { host, isolate } = slotAddress(this.#config, slot);
    const self = this.#self;
    const dial: Dial =
      self !== undefined && self.slot === slot
        ? async () => {
            const [mine, theirs] = memoryPipePair();
            self.serve(theirs);
            return mine;
          }
        : () => dialUnix(socketPath(this.#config.runDir, host, isolate));
    const client = new RpcClient(dial, {
      peer: `host ${host} isolate ${isolate}`,
      connectTimeoutMs: this.#config.connectTimeoutMs,
      callTimeoutMs: this.#config.callTimeoutMs,
      maxFrameBytes: this.#config.maxFrameBytes,
      maxCallBytes: this.#config.maxCallBytes,
      ...(this.#outputGate === undefined ? {} : { outputGate: this.#outputGate }),
      ...(this.#webSockets === undefined ? {} : { webSockets: this.#webSockets }),
      whyDown: (since) => readSlotDown(this.#config.runDir, host, isolate, since),
    });
    this.#clients[slot] = client;
    return client;
  }
}

export function dialUnix(path: string): Promise<Pipe> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const onError = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.removeListener("error", onError);
      resolve(socketPipe(socket));
    });
  });
}
