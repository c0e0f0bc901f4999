// 64-bit Cap'n Proto ids, derived deterministically. A file id is a hash of a seed with the high bit
// set; a struct or enum id is what `capnp compile` itself derives for a nested name: the first 8 bytes
// of MD5(parent id, little-endian ‖ name), big-endian, with the high bit set.
import { createHash } from "node:crypto";
import type { IrProject } from "./ir.ts";

const HIGH_BIT = 1n << 63n;

function hex(id: bigint): string {
  return `0x${id.toString(16).padStart(16, "0")}`;
}

function first8(digest: Buffer): bigint {
  return digest.readBigUInt64BE(0);
}

/** The file id for a schema named `seed` (e.g. the package name). */
export function fileId(seed: string): string {
  const digest = createHash("md5").update(`sourdough-gen file ${seed}`, "utf8").digest();
  return hex(first8(digest) | HIGH_BIT);
}

/** The id capnp derives for declaration `name` inside the scope with id `parentHex`. */
export function childId(parentHex: string, name: string): string {
  const parent = Buffer.alloc(8);
  parent.writeBigUInt64LE(BigInt(parentHex));
  const digest = createHash("md5").update(parent).update(name, "utf8").digest();
  return hex(first8(digest) | HIGH_BIT);
}

/** Sets every struct and enum id from the file id and its name (what capnp would derive for it). */
export function assignIds(ir: IrProject): void {
  const all = [...ir.classes.flatMap((c) => c.methods.flatMap((m) => [m.params, m.results])), ...ir.structs, ...ir.enums];
  for (const decl of all) decl.id = childId(ir.fileId, decl.name);
}
