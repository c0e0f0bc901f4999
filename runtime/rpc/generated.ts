// The runtime's view of sourdough-gen's output: per class and method, a stable method id and
// straight-line codecs for its Params/Results structs. Classes with codecs use them on both sides of
// a call (Call.methodId ≠ 0); the others travel as msgpackr bytes.
import type { MethodCodec } from "../codecs/index.ts";
import { ErrorCode, SourdoughError, type ErrorCode as Code } from "../errors.ts";

/** One method's generated codec (sourdough.gen/codecs.ts). Bytes are framed Cap'n Proto messages. */
export type { MethodCodec };

export type ClassCodecs = Readonly<Record<string, MethodCodec>>;

/** What `sourdough.gen/index.ts` exports as `generated`: pass it to ClusterCoordinator or serve(). */
export interface GeneratedModule {
  readonly registry: {
    readonly classes: Readonly<Record<string, { readonly module: string; readonly export: string; readonly methods: Readonly<Record<string, { readonly id: number }>> }>>;
  };
  readonly codecs: Readonly<Record<string, ClassCodecs>>;
  /** The generated index module's own URL: hosts load the codecs and class modules relative to it. */
  readonly url: string;
}

/** Codecs of every generated class, by name and by id. */
export class CodecTable {
  readonly #byName: Readonly<Record<string, ClassCodecs>>;
  readonly #byId = new Map<string, Map<number, { name: string; codec: MethodCodec }>>();

  constructor(codecs: Readonly<Record<string, ClassCodecs>> = {}) {
    this.#byName = codecs;
    for (const [ns, methods] of Object.entries(codecs)) {
      this.#byId.set(ns, new Map(Object.entries(methods).map(([name, codec]) => [codec.id, { name, codec }])));
    }
  }

  forClass(namespace: string): ClassCodecs | undefined {
    return this.#byName[namespace];
  }

  byId(namespace: string, id: number): { name: string; codec: MethodCodec } | undefined {
    return this.#byId.get(namespace)?.get(id);
  }
}

/**
 * A generated codec's CodecError (recognized by name and code: codecs.ts of older sourdough-gen
 * versions defined their own class) as the SourdoughError callers see. Its message already names the
 * method and the value's path (`ChatRoom.post, argument 2 (text): …`, `sourdough codec, ChatRoom.count
 * result: …`), so it is kept as it is; `where` prefixes only a message that does not start with the
 * method's name.
 */
export function codecFailure(error: unknown, where: string): unknown {
  if (error instanceof Error && error.name === "CodecError") {
    const code = (error as { code?: unknown }).code;
    const method = where.slice(0, where.lastIndexOf(" "));
    const located = error.message.startsWith(method) || error.message.startsWith(`sourdough codec, ${method}`);
    return new SourdoughError(typeof code === "string" ? (code as Code) : ErrorCode.PROTOCOL, located ? error.message : `${where}: ${error.message}`, { cause: error });
  }
  return error;
}
