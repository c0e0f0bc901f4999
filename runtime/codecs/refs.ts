// Ids and stubs in sourdough-gen's codecs: the DurableObjectRef struct (namespace, id, name, cluster)
// read and written field by field. What an id or a stub is, and how one that arrives is checked and
// rebuilt, is the RPC layer's business (runtime/rpc/stub.ts installs it): this module stays a leaf.
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

/** What a DurableObjectRef holds. `cluster` is empty for an id. */
export interface RefFields {
  namespace: string;
  id: string;
  name: string | undefined;
  cluster: string;
}

/** The RPC layer's side: fields of a value (undefined when it is no id / stub), and values rebuilt from fields. */
export interface RefRuntime {
  fieldsOf(kind: "id" | "stub", value: unknown): RefFields | undefined;
  /** Checks the fields as the msgpack path does (ERR_BAD_ID for a forged or foreign ref) and rebuilds the value. */
  rebuild(kind: "id" | "stub", fields: RefFields): unknown;
}

let runtime: RefRuntime | undefined;

/** @internal Called once by runtime/rpc/stub.ts. */
export function installRefRuntime(r: RefRuntime): void {
  runtime = r;
}

function installed(): RefRuntime {
  if (runtime === undefined) throw new Error("sourdough codecs: ids and stubs need sourdough's runtime; import \"sourdough\" before decoding or encoding them");
  return runtime;
}

// The layout `capnp compile` gives `struct DurableObjectRef { namespace @0 :Text; id @1 :Text;
// name @2 :Text; hasName @3 :Bool; cluster @4 :Text; }` (codegen/ir.ts refStruct; tests compare).
export const REF_DATA_WORDS = 1;
export const REF_POINTERS = 4;
const HAS_NAME = 1; // bit 0 of the data word

/** Writes the fields of `v` (an id or a stub, as `kind` says) into the struct whose data starts at `s`. */
export function fillRef(w: Writer, s: number, v: unknown, kind: "id" | "stub", at: string | number): void {
  const f = installed().fieldsOf(kind, v);
  if (f === undefined) return w.fail(at, kind === "id" ? "a DurableObjectId" : "a Durable Object stub", v);
  if (f.name !== undefined) w.bit(s, HAS_NAME);
  const ps = s + REF_DATA_WORDS * 8;
  w.text(ps, f.namespace);
  w.text(ps + 8, f.id);
  if (f.name !== undefined) w.text(ps + 16, f.name);
  if (f.cluster !== "") w.text(ps + 24, f.cluster);
}

/** Allocates a DurableObjectRef at pointer `p` and writes `v` into it. */
export function writeRef(w: Writer, p: number, v: unknown, kind: "id" | "stub", at: string | number): void {
  fillRef(w, w.struct(p, REF_DATA_WORDS, REF_POINTERS), v, kind, at);
}

/** The id or stub of the struct at pointer `p` (a null pointer is refused like any malformed ref). */
export function readRef(r: Reader, p: number, kind: "id" | "stub", what: string): unknown {
  if (!r.struct(p, what)) return getRef(r, 0, 0, 0, 0, kind, what);
  return getRef(r, r.sd, r.sdb, r.sp, r.spc, kind, what);
}

/** The id or stub of a located struct: data at `d` (`db` bytes), `pc` pointers at `ps`. */
export function getRef(r: Reader, d: number, db: number, ps: number, pc: number, kind: "id" | "stub", what: string): unknown {
  const text = (i: number): string => (pc > i ? (r.text(ps + i * 8, what) ?? "") : "");
  const hasName = db > 0 && r.bitAt(d, HAS_NAME);
  const fields: RefFields = { namespace: text(0), id: text(1), name: hasName ? text(2) : undefined, cluster: text(3) };
  return installed().rebuild(kind, fields);
}
