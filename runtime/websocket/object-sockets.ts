// The isolate's side of WebSockets: which sockets each object holds (tags, attachments,
// auto-response), the hibernation API on ctx, delivery of the gateway's events to the object's
// handlers or listeners, and the object's operations (send, close, ...) written back to serve()'s
// process on the connection that carried the socket. This registry outlives eviction (it is per
// isolate, not per instance); after an isolate restart the gateway re-sends it ("sync").
import { randomBytes } from "node:crypto";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import type { FrameConnection } from "../transport/frame-connection.ts";
import { CallKind, type TargetCache } from "../wire/envelope.ts";
import { decodePayload, encodePayload } from "../wire/payload.ts";
import { MAX_AUTO_RESPONSE_BYTES, MAX_EVENT_TIMEOUT_MS, MAX_SOCKETS_PER_OBJECT, MAX_TAGS, MAX_TAG_LENGTH } from "./limits.ts";
import { WebSocket, WebSocketRequestResponsePair, isPairSocket, socketState, type EarlyOperation, type SocketOwner } from "./web-socket.ts";

export interface RoomAddress {
  namespace: string;
  objectId: string;
  name: string | undefined;
}

/** What a 101 response carries to the gateway: the socket's id and registry entry. */
export interface WireSocketLink {
  id: string;
  tags: string[];
  attachment: Uint8Array | null;
  hibernatable: boolean;
  early: EarlyOperation[];
  auto: [string, string] | null;
}

/** The gateway's record of a socket, re-sent to a restarted isolate. */
export interface WireSocketRecord {
  s: string;
  tags: string[];
  a: Uint8Array | null;
  t: number | null;
}

export interface ObjectSocketsOptions {
  /** True while the object has uncommitted writes: what it sends waits for the commit (output gate). */
  holdsOutput(key: string): boolean;
  /** Runs `release` after this turn's commit, with the error if a commit failed. */
  afterCommit(release: (error: Error | undefined) => void): void;
  /** The event the object is running now (its synchronous part), if any. */
  currentEvent(key: string): unknown;
}

interface Room extends RoomAddress {
  key: string;
  conn: FrameConnection | undefined;
  sockets: Map<string, WebSocket>;
  hibernatable: number;
  auto: WebSocketRequestResponsePair | null;
  eventTimeoutMs: number | null;
  /** Operations waiting for the object's commit, in order. */
  held: Array<[string, Uint8Array]>;
  waiting: boolean;
  target: TargetCache;
  /** One message sent to several sockets in a row (a broadcast): one operation for all of them. */
  fanout: { data: string | Uint8Array; ids: string[] } | undefined;
  /** Accepted in a fetch whose 101 has not left, with that fetch's event: dropped if it never does. */
  unlinked: Map<WebSocket, unknown> | undefined;
  /** The gateway's event stream for this object: its generation and the seq admitted next. */
  generation: number | undefined;
  expected: number;
}

/** A gateway event as it arrives: the socket, its data or close fields, and its place in the stream. */
export interface GatewayEvent {
  s: string;
  d?: string | Uint8Array;
  t?: number;
  code?: number;
  reason?: string;
  wasClean?: boolean;
  message?: string;
  g?: number;
  q?: number;
}

const EMPTY_TAGS: readonly string[] = Object.freeze([]);

export class ObjectSockets implements SocketOwner {
  readonly #options: ObjectSocketsOptions;
  readonly #rooms = new Map<string, Room>();
  readonly #prefix = randomBytes(6).toString("base64url");
  #next = 0;

  constructor(options: ObjectSocketsOptions) {
    this.#options = options;
  }

  #room(address: RoomAddress): Room {
    const key = `${address.namespace}:${address.objectId}`;
    let room = this.#rooms.get(key);
    if (room === undefined) {
      room = { key, namespace: address.namespace, objectId: address.objectId, name: address.name, conn: undefined, sockets: new Map(), hibernatable: 0, auto: null, eventTimeoutMs: null, held: [], waiting: false, target: {}, fanout: undefined, unlinked: undefined, generation: undefined, expected: 0 };
      this.#rooms.set(key, room);
    }
    return room;
  }

  /** True while the object holds a socket accepted with accept(): it must stay in memory. */
  pinsObject(key: string): boolean {
    const room = this.#rooms.get(key);
    return room !== undefined && room.sockets.size > room.hibernatable;
  }

  // ---- the hibernation API on ctx ----

  acceptWebSocket(address: RoomAddress, ws: unknown, tags: unknown): void {
    const where = `${address.namespace}: ctx.acceptWebSocket()`;
    if (!isPairSocket(ws)) throw new TypeError(`${where}: expected a WebSocket from new WebSocketPair(), got ${describeValue(ws)}.`);
    const s = socketState(ws);
    if (s.mode !== "none") throw new TypeError(`${where}: this WebSocket was already accepted (${s.mode === "standard" ? "with accept()" : "with ctx.acceptWebSocket()"}). Accept each WebSocket once.`);
    if (s.peer === undefined) throw new TypeError(`${where}: accept the end you keep (pair[1]) and return the other (pair[0]) in the Response.`);
    if (s.peer !== undefined && socketState(s.peer).mode !== "none") throw new TypeError(`${where}: the other end of this pair was accepted: accept one end (pair[1]) and return the other (pair[0]).`);
    const list = checkTags(tags, where);
    const room = this.#room(address);
    if (room.hibernatable >= MAX_SOCKETS_PER_OBJECT) {
      throw new SourdoughError(ErrorCode.TOO_LARGE, `${where}: this object already holds ${MAX_SOCKETS_PER_OBJECT} hibernatable WebSockets (Cloudflare's limit per object). Close some, or spread clients over more objects.`);
    }
    s.mode = "hibernatable";
    s.tags = list;
    s.readyState = WebSocket.OPEN;
    s.id = this.#newId();
    s.owner = this;
    s.room = room;
    s.early = [];
    room.sockets.set(s.id, ws);
    room.hibernatable++;
    const event = this.#options.currentEvent(room.key);
    if (event !== undefined) (room.unlinked ??= new Map()).set(ws, event);
  }

  /** The object was evicted: without sockets its registry entry goes too (as workerd's hibernation manager). */
  evicted(key: string): void {
    const room = this.#rooms.get(key);
    if (room !== undefined && room.sockets.size === 0 && room.held.length === 0 && room.fanout === undefined) this.#rooms.delete(key);
  }

  /** An event finished: sockets it accepted and did not return in a 101 are dropped. */
  eventEnded(key: string, event: unknown): void {
    const room = this.#rooms.get(key);
    if (room?.unlinked === undefined) return;
    for (const [ws, e] of room.unlinked) {
      if (e !== event) continue;
      room.unlinked.delete(ws);
      const s = socketState(ws);
      s.readyState = WebSocket.CLOSED;
      s.early = undefined;
      this.#forget(room, s.id!, ws);
    }
    if (room.unlinked.size === 0) room.unlinked = undefined;
  }

  getWebSockets(address: RoomAddress, tag?: string): WebSocket[] {
    const room = this.#rooms.get(`${address.namespace}:${address.objectId}`);
    if (room === undefined) return [];
    const out: WebSocket[] = [];
    for (const ws of room.sockets.values()) {
      const s = socketState(ws);
      if (s.mode === "hibernatable" && (tag === undefined || s.tags.includes(tag))) out.push(ws);
    }
    return out;
  }

  getTags(address: RoomAddress, ws: unknown): string[] {
    if (!isPairSocket(ws) || socketState(ws).mode !== "hibernatable") {
      throw new TypeError(`${address.namespace}: ctx.getTags(): expected a WebSocket accepted with ctx.acceptWebSocket(), got ${describeValue(ws)}.`);
    }
    return [...socketState(ws).tags];
  }

  setWebSocketAutoResponse(address: RoomAddress, pair: unknown): void {
    if (pair !== undefined && pair !== null && !(pair instanceof WebSocketRequestResponsePair)) {
      throw new TypeError(`${address.namespace}: ctx.setWebSocketAutoResponse(): expected a WebSocketRequestResponsePair (or nothing, to remove it), got ${describeValue(pair)}.`);
    }
    if (pair instanceof WebSocketRequestResponsePair) {
      for (const [what, text] of [["request", pair.request], ["response", pair.response]] as const) {
        const size = Buffer.byteLength(text);
        if (size > MAX_AUTO_RESPONSE_BYTES) throw new RangeError(`${address.namespace}: ctx.setWebSocketAutoResponse(): the ${what} is ${size} bytes; it can be at most ${MAX_AUTO_RESPONSE_BYTES} (Cloudflare's limit).`);
      }
    }
    const room = this.#room(address);
    room.auto = pair ?? null;
    // Without sockets the gateway needs nothing yet: the next 101 (or a sync) carries it.
    if (room.sockets.size > 0) this.#emit(room, "auto", { r: room.auto === null ? null : [room.auto.request, room.auto.response] });
  }

  getWebSocketAutoResponse(address: RoomAddress): WebSocketRequestResponsePair | null {
    return this.#rooms.get(`${address.namespace}:${address.objectId}`)?.auto ?? null;
  }

  getWebSocketAutoResponseTimestamp(address: RoomAddress, ws: unknown): Date | null {
    if (!isPairSocket(ws)) throw new TypeError(`${address.namespace}: ctx.getWebSocketAutoResponseTimestamp(): expected a WebSocket, got ${describeValue(ws)}.`);
    const at = socketState(ws).autoResponseAt;
    return at === undefined ? null : new Date(at);
  }

  setHibernatableWebSocketEventTimeout(address: RoomAddress, ms?: number | null): void {
    if (ms !== undefined && ms !== null && !(Number.isInteger(ms) && ms >= 0 && ms <= MAX_EVENT_TIMEOUT_MS)) {
      throw new RangeError(`${address.namespace}: ctx.setHibernatableWebSocketEventTimeout(): expected whole milliseconds up to ${MAX_EVENT_TIMEOUT_MS} (7 days), or 0/nothing to remove it, got ${describeValue(ms)}.`);
    }
    this.#room(address).eventTimeoutMs = ms === undefined || ms === null || ms === 0 ? null : ms;
  }

  getHibernatableWebSocketEventTimeout(address: RoomAddress): number | null {
    return this.#rooms.get(`${address.namespace}:${address.objectId}`)?.eventTimeoutMs ?? null;
  }

  // ---- what the object's sockets do (SocketOwner) ----

  send(ws: WebSocket, data: string | Uint8Array): void {
    const s = socketState(ws);
    const room = s.room as Room;
    const batch = room.fanout;
    if (batch !== undefined && batch.data === data) return void batch.ids.push(s.id!);
    this.#flushFanout(room);
    room.fanout = { data, ids: [s.id!] };
    queueMicrotask(() => this.#flushFanout(room));
  }

  close(ws: WebSocket, code: number | undefined, reason: string | undefined): void {
    this.#emit(socketState(ws).room as Room, "close", { s: socketState(ws).id, code, reason });
  }

  #flushFanout(room: Room): void {
    const batch = room.fanout;
    if (batch === undefined) return;
    room.fanout = undefined;
    this.#emit(room, "send", batch.ids.length === 1 ? { s: batch.ids[0], d: batch.data } : { m: batch.ids, d: batch.data });
  }

  attachmentChanged(ws: WebSocket): void {
    const s = socketState(ws);
    if (s.early !== undefined || s.room === undefined) return; // travels with the 101
    this.#emit(s.room as Room, "attach", { s: s.id, a: s.attachment ?? null });
  }

  // ---- the runtime's side ----

  /**
   * The object answered a fetch with a 101 carrying `client`: the end the object kept joins its
   * room, bound to the connection the fetch came on, and the gateway learns its registry entry.
   */
  link(client: unknown, conn: FrameConnection, address: RoomAddress, where: string): WireSocketLink {
    if (!isPairSocket(client)) throw new TypeError(`${where}: the 101 Response's webSocket must be pair[0] of a new WebSocketPair(), got ${describeValue(client)}.`);
    const server = socketState(client).peer;
    if (server === undefined) throw new TypeError(`${where}: this WebSocket was already returned in a Response, or is the end the object keeps. Return pair[0] and keep pair[1].`);
    const s = socketState(server);
    if (s.mode === "none") throw new TypeError(`${where}: accept the server end before returning the 101: this.ctx.acceptWebSocket(pair[1]) (hibernation) or pair[1].accept().`);
    const room = this.#room(address);
    if (s.mode === "standard") {
      s.id = this.#newId();
      s.owner = this;
      s.room = room;
      room.sockets.set(s.id, server);
    } else if (s.room !== room) {
      throw new TypeError(`${where}: this WebSocket was accepted by another object. Return it from the object that accepted it.`);
    }
    socketState(client).peer = undefined;
    s.peer = undefined;
    room.unlinked?.delete(server);
    room.conn = conn;
    const early = s.early ?? [];
    s.early = undefined;
    const auto = room.auto;
    return {
      id: s.id!,
      tags: [...s.tags],
      attachment: s.attachment ?? null,
      hibernatable: s.mode === "hibernatable",
      early,
      auto: auto === null ? null : [auto.request, auto.response],
    };
  }

  /** The gateway (re)connected: these are the object's sockets; operations go back on `conn`. */
  sync(conn: FrameConnection, address: RoomAddress, payload: Uint8Array): void {
    const v = decodePayload(payload, `${address.namespace} WebSocket sync`) as { sockets?: WireSocketRecord[]; auto?: [string, string] | null; g?: unknown; next?: unknown };
    const room = this.#room(address);
    room.conn = conn;
    if (typeof v.g === "number" && typeof v.next === "number") {
      room.generation = v.g;
      room.expected = v.next;
    }
    const seen = new Set<string>();
    for (const r of v.sockets ?? []) {
      seen.add(r.s);
      let ws = room.sockets.get(r.s);
      if (ws === undefined) {
        ws = new WebSocket({ id: r.s, mode: "hibernatable", tags: r.tags, readyState: WebSocket.OPEN, owner: this, room });
        room.sockets.set(r.s, ws);
        room.hibernatable++;
      }
      const s = socketState(ws);
      s.attachment = r.a instanceof Uint8Array ? new Uint8Array(r.a) : undefined;
      s.autoResponseAt = r.t ?? undefined;
    }
    for (const [id, ws] of room.sockets) if (!seen.has(id) && socketState(ws).early === undefined) this.#forget(room, id, ws);
    if (room.auto === null && v.auto != null) room.auto = new WebSocketRequestResponsePair(v.auto[0], v.auto[1]);
    if (room.held.length > 0 && !room.waiting) this.#writeHeld(room);
  }

  /**
   * Runs a gateway event (webSocketMessage/Close/Error) on the object's instance or the socket's
   * listeners. With setHibernatableWebSocketEventTimeout, a handler still running after that time
   * ends the event with ERR_DEADLINE_EXCEEDED (its promise is abandoned, as workerd cancels it).
   */
  /**
   * Decodes a gateway event as it arrives (before it waits for the object) and places it in the
   * object's stream: undefined for one this isolate already admitted (a re-send: answered without
   * running again), a retryable error for one ahead of an earlier event still to come, so the gateway
   * re-sends from its oldest unanswered event, in order. Across a host restart an event the old host
   * ran but did not answer runs again: at least once, first occurrences in order.
   */
  admit(address: RoomAddress, method: string, payload: Uint8Array): GatewayEvent | undefined {
    const v = decodePayload(payload, `${address.namespace}.${method} event`) as GatewayEvent;
    if (typeof v.g !== "number" || typeof v.q !== "number") return v;
    const room = this.#room(address);
    if (room.generation !== v.g) {
      room.generation = v.g; // the first event of a stream this isolate was not told of: it starts here
      room.expected = v.q;
    }
    if (v.q < room.expected) return undefined;
    if (v.q > room.expected) {
      throw new SourdoughError(ErrorCode.HOST_UNAVAILABLE, `${address.namespace}.${method}: WebSocket event ${v.q} arrived before event ${room.expected}; the gateway re-sends them in order.`, { retryable: true });
    }
    room.expected = v.q + 1;
    return v;
  }

  dispatch(address: RoomAddress, method: string, event: GatewayEvent, instance: object): unknown {
    const result = this.#dispatch(address, method, event, instance);
    const ms = this.#rooms.get(`${address.namespace}:${address.objectId}`)?.eventTimeoutMs ?? null;
    if (ms === null || !isThenable(result)) return result;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new SourdoughError(ErrorCode.DEADLINE_EXCEEDED, `${address.namespace}.${method}: the handler ran longer than ${ms} ms (setHibernatableWebSocketEventTimeout), so the event was ended. Make the handler finish sooner, or raise the timeout.`)), ms);
      result.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #dispatch(address: RoomAddress, method: string, v: GatewayEvent, instance: object): unknown {
    const where = `${address.namespace}.${method}`;
    const room = this.#room(address);
    let ws = room.sockets.get(v.s);
    if (ws === undefined) {
      // Closed before this isolate learnt of it (restart in between): the handler still hears of it.
      ws = new WebSocket({ id: v.s, mode: "hibernatable", readyState: WebSocket.CLOSED, owner: this, room });
    }
    const s = socketState(ws);
    if (v.t !== undefined) s.autoResponseAt = v.t;
    const handlers = instance as { webSocketMessage?: Function; webSocketClose?: Function; webSocketError?: Function };
    switch (method) {
      case "webSocketMessage": {
        const data = typeof v.d === "string" ? v.d : toArrayBuffer(v.d ?? new Uint8Array(0));
        if (s.mode === "standard") return void ws.dispatchEvent(new MessageEvent("message", { data }));
        if (typeof handlers.webSocketMessage !== "function") throw new SourdoughError(ErrorCode.METHOD_NOT_FOUND, `${where}: class ${address.namespace} accepted a WebSocket with ctx.acceptWebSocket() but has no webSocketMessage(ws, message) handler. Add one.`);
        return handlers.webSocketMessage.call(instance, ws, data);
      }
      case "webSocketClose": {
        s.readyState = WebSocket.CLOSED;
        this.#forget(room, v.s, ws);
        const code = v.code ?? 1005;
        const reason = v.reason ?? "";
        const wasClean = v.wasClean ?? false;
        if (s.mode === "standard") return void ws.dispatchEvent(Object.assign(new Event("close"), { code, reason, wasClean }));
        return typeof handlers.webSocketClose === "function" ? handlers.webSocketClose.call(instance, ws, code, reason, wasClean) : undefined;
      }
      case "webSocketError": {
        const error = new Error(v.message ?? "WebSocket error");
        if (s.mode === "standard") return void ws.dispatchEvent(Object.assign(new Event("error"), { error, message: error.message }));
        return typeof handlers.webSocketError === "function" ? handlers.webSocketError.call(instance, ws, error) : undefined;
      }
      default:
        throw new SourdoughError(ErrorCode.PROTOCOL, `${where}: unknown WebSocket event ${describeValue(method)}.`);
    }
  }

  #forget(room: Room, id: string, ws: WebSocket): void {
    if (room.sockets.get(id) !== ws) return;
    room.sockets.delete(id);
    if (socketState(ws).mode === "hibernatable") room.hibernatable--;
  }

  #newId(): string {
    return `${this.#prefix}${(this.#next++).toString(36)}`;
  }

  // An operation leaves after the object's writes are committed (output gate), in order.
  #emit(room: Room, method: string, value: unknown): void {
    if (method !== "send") this.#flushFanout(room); // keeps the object's operations in order
    const payload = encodePayload(value, `${room.namespace} WebSocket ${method}`);
    if (room.held.length > 0 || this.#options.holdsOutput(room.key)) {
      room.held.push([method, payload]);
      if (!room.waiting) {
        room.waiting = true;
        this.#options.afterCommit((error) => {
          room.waiting = false;
          if (error !== undefined) room.held = []; // the writes they followed were lost: so are they
          else this.#writeHeld(room);
        });
      }
      return;
    }
    this.#write(room, method, payload);
  }

  #writeHeld(room: Room): void {
    const held = room.held;
    room.held = [];
    for (const [method, payload] of held) this.#write(room, method, payload);
  }

  #write(room: Room, method: string, payload: Uint8Array): void {
    const conn = room.conn;
    if (conn === undefined || conn.closed) {
      // The gateway's connection is gone; it reconnects and sends a sync, then these go out.
      if (room.held.length < 10_000) room.held.push([method, payload]);
      return;
    }
    conn.writer.writeCall(0, CallKind.WebSocket, 0, room.namespace, room.objectId, method, payload, undefined, room.target);
    conn.flushSoon();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

// As workerd: duplicates are ignored; at most MAX_TAGS distinct tags of at most MAX_TAG_LENGTH characters.
function checkTags(tags: unknown, where: string): readonly string[] {
  if (tags === undefined) return EMPTY_TAGS;
  if (!Array.isArray(tags)) throw new TypeError(`${where}: tags must be an array of strings, got ${describeValue(tags)}.`);
  const distinct = new Set<string>();
  for (const tag of tags) {
    if (typeof tag !== "string") throw new TypeError(`${where}: every tag must be a string, got ${describeValue(tag)}.`);
    if (tag.length > MAX_TAG_LENGTH) throw new RangeError(`${where}: tag ${describeValue(tag)} is ${tag.length} characters; a tag can have at most ${MAX_TAG_LENGTH} (Cloudflare's limit).`);
    distinct.add(tag);
    if (distinct.size > MAX_TAGS) throw new RangeError(`${where}: more than ${MAX_TAGS} distinct tags given; a WebSocket can have at most ${MAX_TAGS} (Cloudflare's limit).`);
  }
  return Object.freeze([...distinct]);
}
