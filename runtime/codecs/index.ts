// `sourdough/codecs`: the runtime of the codecs sourdough-gen writes (sourdough.gen/codecs.ts). A
// generated file holds only per-method code and imports its reader, writer and msgpack helpers from
// here, so a project that depends on `sourdough` alone runs them (no msgpackr import of its own).
// The names are the generated code's contract: changing one is a breaking change of sourdough-gen's
// output, caught by `sourdough-gen --check` (the banner) and the golden fixtures.
export { CodecError, MAX_DEPTH, describe, type MethodCodec } from "./errors.ts";
export { pack, unpack } from "./msgpack.ts";
export { Reader, reader } from "./reader.ts";
export { Writer, encode } from "./writer.ts";
export { fillRef, getRef, readRef, writeRef } from "./refs.ts";
