// The messages of schema/rpc.capnp as plain objects, and the ProtocolError any malformed frame
// raises. frame-writer.ts writes them and decode-message.ts reads them, by hand, in Cap'n Proto layout.
import { ErrorCode, SourdoughError } from "../errors.ts";

export enum Which {
  Call = 0,
  Return = 1,
  Exception = 2,
  Cancel = 3,
  Control = 4,
  /** The sender drops references to an export of the receiver (capabilities.ts). */
  Release = 5,
  /** The sender no longer pipelines on a question whose answer the receiver held. */
  Finish = 6,
}
export enum CallKind {
  Method = 0,
  Fetch = 1,
  /** A WebSocket event (gateway → object) or operation (object → gateway); see runtime/websocket/. */
  WebSocket = 2,
}
export enum ControlWhich {
  Ping = 0,
  Pong = 1,
  Goodbye = 2,
}

export interface CallMessage {
  which: Which.Call;
  questionId: number;
  kind: CallKind;
  methodId: number;
  namespace: string;
  objectId: string; // hex of the Data field
  method: string;
  payload: Uint8Array;
  name: string | undefined;
  /** 0: the object named by namespace/objectId; else an export id of the receiver. */
  target: number;
  /** 0: none; else the sender's earlier question whose (reference) result is the target. */
  promisedAnswer: number;
}
export interface ReturnMessage {
  which: Which.Return;
  questionId: number;
  payload: Uint8Array;
  /** The callee keeps the (reference) result for pipelined calls until the caller sends Finish. */
  heldAnswer: boolean;
}
export interface ReleaseMessage {
  which: Which.Release;
  exportId: number;
  count: number;
}
export interface FinishMessage {
  which: Which.Finish;
  questionId: number;
}
export interface ExceptionMessage {
  which: Which.Exception;
  questionId: number;
  retryable: boolean;
  name: string;
  message: string;
  code: string | undefined;
  stack: string | undefined;
}
export interface CancelMessage {
  which: Which.Cancel;
  questionId: number;
}
/** Per-object cache of the encoded (namespace, objectId) part of a Call; see FrameWriter.writeCall. */
export interface TargetCache {
  encoded?: { pointers: Buffer; body: Buffer };
}

export interface ControlMessage {
  which: Which.Control;
  control: ControlWhich;
  value: bigint; // ping/pong nonce
  reason: string | undefined; // goodbye text
}
export type Message = CallMessage | ReturnMessage | ExceptionMessage | CancelMessage | ControlMessage | ReleaseMessage | FinishMessage;

/**
 * Thrown for any frame that violates the framing or layout rules, or that this end cannot hold; the
 * connection must be closed. `why` says whose fault it is, for the message.
 */
export class ProtocolError extends SourdoughError {
  constructor(message: string, why = "The peer is not speaking schema/rpc.capnp") {
    super(ErrorCode.PROTOCOL, `sourdough wire: ${message}. ${why}; the connection was closed.`);
    this.name = "ProtocolError";
  }
}
