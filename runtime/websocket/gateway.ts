// serve()'s side of WebSockets: it holds every client socket (the `ws` library), so sockets outlive
// the objects that accepted them, their eviction and their host's restart. Client messages become
// events delivered to the owning object over the RPC connection (in order, retried on a restarted
// host, bounded while it is down); the object's operations (send, close, attachments, auto-response)
// come back on that connection. What isolates need after a restart is re-sent as a "sync".
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket as ClientSocket } from "ws";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import type { Logger } from "../ops/logger.ts";
import type { CallTarget, RpcClient, WebSocketPeer } from "../rpc/rpc-client.ts";
import { CallKind, type CallMessage } from "../wire/envelope.ts";
import { decodePayload, encodePayload } from "../wire/payload.ts";
import {
  CloseCode,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_QUEUED_EVENTS,
  DEFAULT_QUEUE_TIMEOUT_MS,
  DELIVERY_WINDOW,
  MAX_MESSAGE_BYTES,
} from "./limits.ts";
import type { WireSocketLink, WireSocketRecord } from "./object-sockets.ts";
import { Response, type WebSocket } from "./web-socket.ts";

/** serve()'s `webSockets` options: the gateway's bounds. */
export interface WebSocketGatewayOptions {
  /** Events of one object waiting for delivery (host down or object slow); past it the sending socket is closed with 1011. Default 1000. */
  maxQueuedEvents?: number;
  /** Bytes of those events. Default 16 MiB. */
  maxQueuedBytes?: number;
  /** How long an event may wait for its object's host; past it the object's sockets are closed with 1011. Default 30 000. */
  queueTimeoutMs?: number;
  /** Bytes sent to a client and not yet read by it; past it that socket is closed with 1008. Default 8 MiB. */
  maxBufferedBytes?: number;
}

/** What the gateway needs of the coordinator. */
export interface GatewayCluster {
  clientFor(namespace: string, objectIdHex: string): RpcClient;
  setWebSocketPeer(peer: WebSocketPeer | undefined): void;
}

/** The largest message the gateway reads from a client (Cloudflare's limit, within the call limit). */
export function maxClientMessageBytes(maxCallBytes: number): number {
  return Math.min(MAX_MESSAGE_BYTES, maxCallBytes - 1024);
}

interface PendingEvent {
  method: string;
  payload: Uint8Array;
  bytes: number;
  at: number;
  /** Position in the room's stream of events (see Room.generation). */
  seq: number;
}

let generations = 0;

class Room {
  readonly sockets = new Map<string, ClientRecord>();
  /**
   * Events carry (generation, seq); a sync tells a new connection the seq to expect next, so an
   * isolate refuses an event that arrives ahead of an earlier one still to be re-sent (calls queued
   * on a reconnecting client go out before the retry of those the old connection lost), and answers
   * an event it already ran without running it again.
   */
  readonly generation = ++generations;
  nextSeq = 0;
  auto: [string, string] | null = null;
  unsent: PendingEvent[] = [];
  sent: PendingEvent[] = [];
  queuedBytes = 0;
  epoch = 0;
  retry: NodeJS.Timeout | undefined;
  client: RpcClient | undefined;
  constructor(
    readonly key: string,
    readonly target: CallTarget,
  ) {}
  get queued(): number {
    return this.unsent.length + this.sent.length;
  }
}

/** One client socket. Also the `webSocket` of the Response the worker gets from stub.fetch(). */
export class ClientRecord {
  ws: ClientSocket | undefined;
  /** Operations that arrived before the upgrade finished. */
  pending: unknown[] | undefined = [];
  attachment: Uint8Array | null;
  autoAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  constructor(
    readonly id: string,
    readonly room: Room,
    readonly gateway: WebSocketGateway,
    readonly tags: string[],
    readonly hibernatable: boolean,
    attachment: Uint8Array | null,
  ) {
    this.attachment = attachment;
  }
  get [Symbol.toStringTag](): string {
    return "WebSocket";
  }
}

// A WeakMap, not a property on the socket: a new property can turn `ws`'s object into a slow, larger one.
const records = new WeakMap<ClientSocket, ClientRecord>();
const NO_RESULT = (): undefined => undefined;
/** The worker's 101 of each upgrade in progress (read by handleProtocols and the "headers" hook). */
const answers = new WeakMap<IncomingMessage, globalThis.Response>();
/** Headers the handshake sets itself. */
const HANDSHAKE_HEADERS = new Set(["upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol", "sec-websocket-extensions", "content-length", "transfer-encoding"]);
/** How long a 101 may wait for the worker to hand it back to serve() before the socket is dropped. */
const UPGRADE_WAIT_MS = 10_000;

export class WebSocketGateway implements WebSocketPeer {
  readonly #cluster: GatewayCluster;
  readonly #logger: Logger;
  readonly #wss: WebSocketServer;
  readonly #rooms = new Map<string, Room>();
  readonly #corked = new Set<Duplex>();
  readonly #maxQueuedEvents: number;
  readonly #maxQueuedBytes: number;
  readonly #queueTimeoutMs: number;
  readonly #maxBufferedBytes: number;
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  constructor(cluster: GatewayCluster, options: WebSocketGatewayOptions & { maxCallBytes: number; logger: Logger }) {
    this.#cluster = cluster;
    this.#logger = options.logger;
    this.#maxQueuedEvents = positive(options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS, "maxQueuedEvents");
    this.#maxQueuedBytes = positive(options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES, "maxQueuedBytes");
    this.#queueTimeoutMs = positive(options.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS, "queueTimeoutMs");
    this.#maxBufferedBytes = positive(options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES, "maxBufferedBytes");
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: maxClientMessageBytes(options.maxCallBytes),
      // The object's 101 chooses the subprotocol, as on Cloudflare: none unless it names one offered.
      handleProtocols: (offered, req) => {
        const chosen = answers.get(req)?.headers.get("sec-websocket-protocol") ?? null;
        return chosen !== null && offered.has(chosen) ? chosen : false;
      },
    });
    // The object's other response headers (cookies, custom ones) go out with the 101.
    this.#wss.on("headers", (headers: string[], req: IncomingMessage) => {
      const response = answers.get(req);
      if (response === undefined) return;
      for (const [name, value] of response.headers) if (!HANDSHAKE_HEADERS.has(name)) headers.push(`${name}: ${value.replace(/[\r\n]/g, " ")}`);
    });
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(50, Math.min(1000, this.#queueTimeoutMs / 4)));
    this.#sweeper.unref();
    cluster.setWebSocketPeer(this);
  }

  /** Sockets held now (open or waiting for their upgrade). */
  get size(): number {
    let n = 0;
    for (const room of this.#rooms.values()) n += room.sockets.size;
    return n;
  }

  // ---- HTTP side ----

  /** An Upgrade request: runs the worker; a 101 with an object's WebSocket completes the upgrade. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, run: () => Promise<globalThis.Response>): void {
    const onSocketError = (): void => void socket.destroy();
    socket.on("error", onSocketError);
    run().then(
      (response) => {
        const record: unknown = response.status === 101 ? (response as Response).webSocket : undefined;
        if (record instanceof ClientRecord && record.gateway === this && record.ws === undefined && record.pending !== undefined && !this.#closed) {
          answers.set(req, response);
          this.#wss.handleUpgrade(req, socket, head, (ws) => {
            socket.removeListener("error", onSocketError); // ws handles the socket's errors from here
            this.#open(record, ws);
          });
          return;
        }
        if (response.status === 101) {
          return writeRaw(socket, 500, `worker.fetch returned status 101 with ${describeValue(record)} as its webSocket. Return the Response of stub.fetch(request) from a Durable Object that accepted a WebSocketPair.\n`);
        }
        return response.arrayBuffer().then((body) => writeRawResponse(socket, response, new Uint8Array(body)));
      },
      (error: unknown) => writeRaw(socket, 500, `worker.fetch threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`),
    ).catch(() => socket.destroy());
  }

  /** Closes every client socket (1001) and stops delivering. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#cluster.setWebSocketPeer(undefined);
    const open: ClientSocket[] = [];
    for (const room of this.#rooms.values()) {
      clearTimeout(room.retry);
      for (const record of room.sockets.values()) {
        clearTimeout(record.timer);
        if (record.ws !== undefined) {
          open.push(record.ws);
          record.ws.close(CloseCode.GOING_AWAY, "server shutting down");
        }
      }
    }
    this.#rooms.clear();
    const deadline = Date.now() + 500;
    while (open.some((ws) => ws.readyState !== ws.CLOSED) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const ws of open) ws.terminate();
    this.#wss.close();
  }

  // ---- WebSocketPeer: the RPC side ----

  adopt(socket: unknown, headers: Array<[string, string]>, target: CallTarget, client: RpcClient): globalThis.Response {
    const link = asLink(socket, `${target.namespace}.fetch`);
    const room = this.#room(target);
    room.client = client;
    if (link.auto !== null) room.auto = link.auto;
    const record = new ClientRecord(link.id, room, this, link.tags, link.hibernatable, link.attachment);
    room.sockets.set(link.id, record);
    record.pending!.push(...link.early);
    record.timer = setTimeout(() => {
      if (record.ws !== undefined) return;
      record.pending = undefined;
      this.#closed_(record, 1006, "the worker did not return the WebSocket response", false);
    }, UPGRADE_WAIT_MS);
    record.timer.unref();
    return new Response(null, { status: 101, webSocket: record as unknown as WebSocket, headers });
  }

  operation(message: CallMessage, _client: RpcClient): void {
    let v: { s?: string; m?: string[]; d?: string | Uint8Array; code?: number; reason?: string; a?: Uint8Array | null; r?: [string, string] | null };
    try {
      v = decodePayload(message.payload, "WebSocket operation") as typeof v;
    } catch (error) {
      return this.#logger.warn(`${message.namespace}: an undecodable WebSocket operation was ignored: ${String(error)}`);
    }
    const room = this.#rooms.get(`${message.namespace}:${message.objectId}`);
    if (message.method === "auto") {
      if (room !== undefined) room.auto = v.r ?? null; // no room, no sockets: the next 101 carries it
      return;
    }
    if (message.method === "send" && Array.isArray(v.m) && room !== undefined) {
      // A broadcast: one operation, the text encoded once for every socket.
      const data = v.d ?? "";
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      for (const id of v.m) {
        const r = room.sockets.get(id);
        if (r !== undefined) this.#sendTo(r, data, bytes);
      }
      return;
    }
    const record = v.s === undefined ? undefined : room?.sockets.get(v.s);
    if (record === undefined) return; // closed meanwhile: Cloudflare drops sends to a closed socket too
    switch (message.method) {
      case "send":
        return this.#sendTo(record, v.d ?? "");
      case "close":
        return this.#applyClose(record, v.code, v.reason);
      case "attach":
        record.attachment = v.a instanceof Uint8Array ? new Uint8Array(v.a) : null; // a copy: not a view of the frame
        return;
      default:
        this.#logger.warn(`${message.namespace}: unknown WebSocket operation ${describeValue(message.method)} ignored.`);
    }
  }

  attached(client: RpcClient): void {
    // A new connection (a restarted isolate, or the first one): tell it which sockets its objects hold,
    // before any event waiting for it.
    for (const room of this.#rooms.values()) {
      if (room.client !== client) continue;
      const sockets: WireSocketRecord[] = [];
      for (const r of room.sockets.values()) if (r.hibernatable) sockets.push({ s: r.id, tags: r.tags, a: r.attachment, t: r.autoAt ?? null });
      if (sockets.length === 0 && room.auto === null && room.queued === 0) continue;
      const next = (room.sent[0] ?? room.unsent[0])?.seq ?? room.nextSeq;
      const payload = encodePayload({ sockets, auto: room.auto, g: room.generation, next }, `${room.target.namespace} WebSocket sync`);
      client.call(CallKind.WebSocket, room.target, "sync", 0, payload, `${room.target.namespace} WebSocket sync`, NO_RESULT, { timeoutMs: Infinity }).catch(() => {});
    }
  }

  closed(client: RpcClient): void {
    let reconnect = false;
    for (const room of this.#rooms.values()) {
      if (room.client !== client) continue;
      for (const r of room.sockets.values()) {
        if (r.hibernatable) reconnect = true;
        // accept() keeps a socket in the instance's listeners, which are gone with its isolate.
        else this.#closeClient(r, CloseCode.UNAVAILABLE, "sourdough: the object restarted; accept() sockets end with it");
      }
    }
    // Reconnect at once, so a restarted isolate learns its sockets before anything else reaches it.
    if (reconnect && !this.#closed) setImmediate(() => client.connect());
  }

  // ---- client sockets ----

  #room(target: CallTarget): Room {
    const key = `${target.namespace}:${target.objectId}`;
    let room = this.#rooms.get(key);
    if (room === undefined) {
      room = new Room(key, { namespace: target.namespace, objectId: target.objectId, name: target.name });
      this.#rooms.set(key, room);
    }
    return room;
  }

  #open(record: ClientRecord, ws: ClientSocket): void {
    clearTimeout(record.timer);
    record.timer = undefined;
    record.ws = ws;
    records.set(ws, record);
    ws.on("message", onMessage);
    ws.on("close", onClose);
    ws.on("error", onError);
    const pending = record.pending ?? [];
    record.pending = undefined;
    for (const op of pending) {
      if (typeof op === "string" || op instanceof Uint8Array) this.#sendTo(record, op);
      else {
        const c = op as { close?: number | null; reason?: string | null };
        this.#applyClose(record, c.close ?? undefined, c.reason ?? undefined);
      }
    }
  }

  /** @internal a client message (shared listener: no closure per socket). */
  clientMessage(record: ClientRecord, data: RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const room = record.room;
    let value: { s: string; d: string | Uint8Array; t?: number };
    if (isBinary) value = { s: record.id, d: bytes };
    else {
      const text = bytes.toString("utf8");
      const auto = room.auto;
      if (auto !== null && text === auto[0]) {
        // Answered here: the object is not woken (Cloudflare's auto-response).
        record.autoAt = Date.now();
        return this.#sendTo(record, auto[1]);
      }
      value = { s: record.id, d: text };
    }
    if (record.autoAt !== undefined) value.t = record.autoAt;
    if (room.queued >= this.#maxQueuedEvents || room.queuedBytes + bytes.byteLength > this.#maxQueuedBytes) {
      const why = room.retry !== undefined ? "its host is unreachable" : "it is not keeping up";
      return this.#closeClient(record, CloseCode.UNAVAILABLE, `sourdough: ${room.queued} messages queued for the object (${why})`);
    }
    this.#enqueue(room, "webSocketMessage", value, bytes.byteLength);
  }

  /** @internal the client's socket closed. */
  clientClosed(record: ClientRecord, code: number, reason: string): void {
    this.#closed_(record, code, reason, code !== 1006);
  }

  /** @internal */
  clientError(record: ClientRecord, error: Error): void {
    if (record.room.sockets.get(record.id) !== record) return;
    this.#enqueue(record.room, "webSocketError", { s: record.id, message: error.message }, 0);
  }

  #closed_(record: ClientRecord, code: number, reason: string, wasClean: boolean): void {
    const room = record.room;
    if (room.sockets.get(record.id) !== record) return;
    room.sockets.delete(record.id);
    clearTimeout(record.timer);
    if (this.#closed) return;
    this.#enqueue(room, "webSocketClose", { s: record.id, code, reason, wasClean }, 0);
  }

  // `bytes`: the message already encoded (a broadcast encodes its text once); a string is sent as text.
  #sendTo(record: ClientRecord, data: string | Uint8Array, bytes: string | Uint8Array = data): void {
    const ws = record.ws;
    if (ws === undefined) return void record.pending?.push(data);
    if (ws.readyState !== ws.OPEN) return;
    const size = typeof bytes === "string" ? bytes.length : bytes.byteLength;
    if (ws.bufferedAmount + size > this.#maxBufferedBytes) {
      // Backpressure: a client that does not read is closed, never buffered without bound.
      return this.#closeClient(record, CloseCode.TOO_SLOW, `sourdough: client too slow: ${ws.bufferedAmount} bytes unread`);
    }
    this.#cork(ws);
    ws.send(bytes, { binary: typeof data !== "string" });
  }

  // What one turn sends to a client goes out in one write: a broadcast per message would otherwise cost
  // a system call per socket per message (the fan-out was bound by writev). Measured on the fan-out
  // bench (1 × 200, quick, 2 runs each way, alternating): gateway CPU per delivered message 3.9-5.1 µs
  // uncorked, 1.6-2.1 µs corked. The socket is ws's underlying net.Socket (ws has no cork of its own);
  // uncorked once per turn, at setImmediate.
  #cork(ws: ClientSocket): void {
    const socket = (ws as unknown as { _socket?: Duplex })._socket;
    if (socket === undefined || this.#corked.has(socket)) return;
    socket.cork();
    this.#corked.add(socket);
    if (this.#corked.size === 1) setImmediate(this.#uncorkAll);
  }

  readonly #uncorkAll = (): void => {
    for (const socket of this.#corked) socket.uncork();
    this.#corked.clear();
  };

  #applyClose(record: ClientRecord, code: number | undefined, reason: string | undefined): void {
    if (record.ws === undefined) return void record.pending?.push({ close: code ?? null, reason: reason ?? null });
    if (record.ws.readyState === record.ws.OPEN) record.ws.close(code, reason);
  }

  #closeClient(record: ClientRecord, code: number, reason: string): void {
    const ws = record.ws;
    if (ws === undefined) {
      record.pending = undefined;
      return this.#closed_(record, 1006, reason, false);
    }
    if (ws.readyState === ws.OPEN) ws.close(code, reason.slice(0, 120));
  }

  // ---- delivery: in order, a window in flight, retried on a new connection, bounded in time ----

  #enqueue(room: Room, method: string, value: Record<string, unknown>, bytes: number): void {
    const seq = room.nextSeq++;
    value.g = room.generation;
    value.q = seq;
    const payload = encodePayload(value, `${room.target.namespace}.${method} event`);
    room.unsent.push({ method, payload, bytes, at: Date.now(), seq });
    room.queuedBytes += bytes;
    this.#pump(room);
  }

  #pump(room: Room): void {
    if (room.retry !== undefined || this.#closed) return;
    while (room.sent.length < DELIVERY_WINDOW && room.unsent.length > 0) {
      const event = room.unsent.shift()!;
      room.sent.push(event);
      this.#deliver(room, event);
    }
  }

  #deliver(room: Room, event: PendingEvent): void {
    const epoch = room.epoch;
    const { namespace, objectId } = room.target;
    let client: RpcClient;
    try {
      client = this.#cluster.clientFor(namespace, objectId);
    } catch (error) {
      return void queueMicrotask(() => this.#failed(room, event, epoch, error));
    }
    room.client = client;
    client.call(CallKind.WebSocket, room.target, event.method, 0, event.payload, `${namespace}.${event.method}`, NO_RESULT, { timeoutMs: Infinity }).then(
      () => this.#done(room, event),
      (error: unknown) => this.#failed(room, event, epoch, error),
    );
  }

  #failed(room: Room, event: PendingEvent, epoch: number, error: unknown): void {
    if (epoch !== room.epoch) return; // already put back for a retry
    const code = (error as { code?: unknown }).code;
    if (code === ErrorCode.CLOSED) return this.#drop(room);
    if ((error as { retryable?: unknown }).retryable === true) {
      // The connection went away (host restarting): everything not answered goes again, in order.
      room.epoch++;
      room.unsent = room.sent.concat(room.unsent);
      room.sent = [];
      room.retry = setTimeout(() => {
        room.retry = undefined;
        this.#pump(room);
      }, 50);
      return;
    }
    // The handler threw: as on Cloudflare the error is logged and the socket stays open.
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.#logger.error(`${room.target.namespace} ${room.target.objectId}: ${event.method} threw: ${message}`);
    this.#done(room, event);
  }

  #done(room: Room, event: PendingEvent): void {
    let i = room.sent.indexOf(event);
    if (i >= 0) room.sent.splice(i, 1);
    else if ((i = room.unsent.indexOf(event)) >= 0) room.unsent.splice(i, 1);
    else return;
    room.queuedBytes -= event.bytes;
    if (room.queued === 0 && room.sockets.size === 0 && room.retry === undefined) {
      if (this.#rooms.get(room.key) === room) this.#rooms.delete(room.key);
      return;
    }
    this.#pump(room);
  }

  #drop(room: Room): void {
    room.unsent = [];
    room.sent = [];
    room.queuedBytes = 0;
    room.epoch++;
  }

  // Events that waited past queueTimeoutMs (host down, or stopped): the object's sockets are closed.
  #sweep(): void {
    const cutoff = Date.now() - this.#queueTimeoutMs;
    for (const room of this.#rooms.values()) {
      const oldest = room.sent[0] ?? room.unsent[0];
      if (oldest === undefined || oldest.at > cutoff) continue;
      this.#logger.warn(`${room.target.namespace} ${room.target.objectId}: WebSocket events waited over ${this.#queueTimeoutMs} ms for the object's host; its sockets are closed with 1011.`);
      this.#drop(room);
      clearTimeout(room.retry);
      room.retry = undefined;
      for (const record of [...room.sockets.values()]) this.#closeClient(record, CloseCode.UNAVAILABLE, `sourdough: object unreachable for over ${this.#queueTimeoutMs} ms`);
    }
  }
}

function onMessage(this: ClientSocket, data: RawData, isBinary: boolean): void {
  const r = records.get(this);
  r?.gateway.clientMessage(r, data, isBinary);
}
function onClose(this: ClientSocket, code: number, reason: Buffer): void {
  const r = records.get(this);
  r?.gateway.clientClosed(r, code, reason.toString("utf8"));
}
function onError(this: ClientSocket, error: Error): void {
  const r = records.get(this);
  r?.gateway.clientError(r, error);
}

function asLink(value: unknown, where: string): WireSocketLink {
  const v = value as Partial<WireSocketLink> | null | undefined;
  if (v === null || typeof v !== "object" || typeof v.id !== "string" || !Array.isArray(v.tags) || !Array.isArray(v.early) || typeof v.hibernatable !== "boolean") {
    throw new SourdoughError(ErrorCode.PROTOCOL, `${where}: a 101 answer without a valid WebSocket link (got ${describeValue(value)}).`);
  }
  return { id: v.id, tags: v.tags.map(String), attachment: v.attachment instanceof Uint8Array ? new Uint8Array(v.attachment) : null, hibernatable: v.hibernatable, early: v.early, auto: Array.isArray(v.auto) ? (v.auto as [string, string]) : null };
}

function positive(value: number, name: string): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `serve(): webSockets.${name} must be a number > 0, got ${describeValue(value)}.`);
  }
  return value;
}

function writeRaw(socket: Duplex, status: number, text: string): void {
  const body = Buffer.from(text);
  socket.end(`HTTP/1.1 ${status} ${status === 500 ? "Internal Server Error" : ""}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.byteLength}\r\nconnection: close\r\n\r\n${text}`);
}

function writeRawResponse(socket: Duplex, response: globalThis.Response, body: Uint8Array): void {
  let head = `HTTP/1.1 ${response.status} ${response.statusText}\r\n`;
  for (const [k, v] of response.headers) if (k !== "content-length" && k !== "connection") head += `${k}: ${v}\r\n`;
  head += `content-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`;
  socket.write(head);
  socket.end(body);
}
