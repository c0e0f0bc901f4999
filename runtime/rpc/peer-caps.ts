// The object side of one connection's capabilities: the callee calls back the functions and
// RpcTargets its caller passed (its own questions on the connection, answered by the caller with
// Return/Exception), exports the RpcTargets its objects return, and holds the answers that pipelined
// calls address (Call.promisedAnswer) until the caller's Release covers the Return that carried the
// reference (or the caller sends Finish, or the export is dropped).
import { ErrorCode, SourdoughError } from "../errors.ts";
import type { FrameConnection } from "../transport/frame-connection.ts";
import { CallKind, type ExceptionMessage, type ReturnMessage } from "../wire/envelope.ts";
import { CapSession, type CapWire } from "./capabilities.ts";
import { decodeMsgpackResult } from "./rpc-client.ts";
import { errorFromWire } from "./remote-error.ts";

interface Question {
  resolve(value: unknown): void;
  reject(error: Error): void;
  where: string;
}

/** Sends when the output gate allows (after the writes made so far are committed), or fails. */
export type Gate = (send: (error: Error | undefined) => void) => void;

export class ServerCaps implements CapWire {
  readonly session: CapSession;
  /** Answers kept for pipelined calls: question id → the reference the call returned, and its object. */
  readonly held = new Map<number, { value: object; owner: unknown }>();
  /** Pipelined calls still waiting for the call they address, by question id → calls pipelined on them. */
  readonly queued = new Map<number, import("../wire/envelope.ts").CallMessage[]>();
  readonly peer: string;
  readonly #conn: FrameConnection;
  readonly #gate: Gate;
  readonly #questions = new Map<number, Question>();
  #nextId = 1;
  #closed: string | undefined;

  constructor(conn: FrameConnection, peer: string, gate: Gate, maxExports?: number) {
    this.#conn = conn;
    this.peer = peer;
    this.#gate = gate;
    // A held answer goes once the caller's Release of the reference covers the Return that carried
    // it (CapSession.wrote): that Release follows the Return, and after the Return the caller
    // pipelines on the reference, never on the question. The caller sends Finish when its Release
    // may come much later (it holds the reference from elsewhere too) or it could not decode the
    // result; a reference answering a call it gave up on it releases at once.
    this.session = new CapSession(this, maxExports, (q, value) => {
      if (this.held.get(q)?.value === value) this.held.delete(q);
    });
  }

  /** The caller sent Finish: the held answer of `questionId` is let go. */
  finish(questionId: number): void {
    const answer = this.held.get(questionId);
    if (answer === undefined) return;
    this.held.delete(questionId);
    this.session.unholdAnswer(answer.value, questionId);
  }

  /** Calls in flight from this side to the caller's references. */
  get pending(): number {
    return this.#questions.size;
  }

  call(target: number, promisedAnswer: number, method: string, payload: Uint8Array, where: string, exported?: number[]): Promise<unknown> {
    if (this.#closed !== undefined) {
      this.session.unsent(exported);
      return Promise.reject(new SourdoughError(ErrorCode.REFERENCE_RELEASED, `${where}: ${this.#closed}.`));
    }
    const id = this.#nextId;
    this.#nextId = id === 0xffffffff ? 1 : id + 1;
    return new Promise<unknown>((resolve, reject) => {
      this.#questions.set(id, { resolve, reject, where });
      this.#gate((error) => {
        const q = this.#questions.get(id);
        if (q === undefined) return; // failed meanwhile (connection closed)
        if (error !== undefined) {
          this.#questions.delete(id);
          this.session.unsent(exported);
          return q.reject(new SourdoughError(ErrorCode.STORAGE, `${where}: not sent: ${error.message}`, { cause: error, retryable: true }));
        }
        try {
          this.#conn.writer.writeCall(id, CallKind.Method, 0, "", "", method, payload, undefined, undefined, target, promisedAnswer);
        } catch (e) {
          this.#questions.delete(id);
          this.session.unsent(exported);
          return q.reject(e as Error);
        }
        this.session.wrote(exported);
        this.#conn.flushSoon();
      });
    });
  }

  release(exportId: number, count: number): void {
    if (this.#closed !== undefined || this.#conn.closed) return;
    this.#conn.writer.writeRelease(exportId, count);
    this.#conn.flushSoon();
  }

  /** This side does not pipeline (canPipeline is false): no question is ever offered. */
  readonly lastQuestionId = 0;

  canPipeline(): boolean {
    return false; // this side's calls on references wait for their result before the next call
  }

  /** The caller answered one of this side's calls. */
  answer(message: ReturnMessage | ExceptionMessage): void {
    const q = this.#questions.get(message.questionId);
    if (q === undefined) return;
    this.#questions.delete(message.questionId);
    if ("payload" in message) {
      try {
        q.resolve(decodeMsgpackResult(message.payload, q.where, this.session));
      } catch (error) {
        q.reject(error as Error);
      }
    } else {
      q.reject(errorFromWire(message));
    }
  }

  /** The connection closed: its references die, calls waiting on the caller fail. */
  close(reason: string): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    this.held.clear();
    this.queued.clear();
    this.session.close(reason);
    const questions = [...this.#questions.values()];
    this.#questions.clear();
    for (const q of questions) q.reject(new SourdoughError(ErrorCode.REFERENCE_RELEASED, `${q.where}: ${reason}. The call may or may not have run there.`));
  }
}
