// Branded number types that choose a Cap'n Proto type for a parameter, property or result. A plain
// `number` travels as Float64 and a `bigint` as Int64; annotate with these to pick another wire type:
//
//   async resize(width: Int32, height: Int32): Promise<UInt64n> { ... }
//
// The brand property is optional, so plain numbers are assignable to them and they read as numbers:
// callers need no casts. sourdough-gen recognizes them by shape (the `__capnp` property), so a copy
// of these declarations in your own code works the same. Encoding checks the range and throws
// ERR_UNSUPPORTED_TYPE for a value that does not fit (a fraction for an Int32, 2 ** 40 for a UInt16).

/** The brand sourdough-gen reads. */
interface Wire<Name extends string> {
  readonly __capnp?: Name;
}

export type Float64 = number & Wire<"Float64">;
/** Rounded to single precision on the wire. */
export type Float32 = number & Wire<"Float32">;
export type Int8 = number & Wire<"Int8">;
export type Int16 = number & Wire<"Int16">;
export type Int32 = number & Wire<"Int32">;
export type UInt8 = number & Wire<"UInt8">;
export type UInt16 = number & Wire<"UInt16">;
export type UInt32 = number & Wire<"UInt32">;
/** A safe integer (|n| ≤ 2^53 - 1) as Int64; a value read that does not fit a number exactly is an error. */
export type Int64 = number & Wire<"Int64">;
/** A non-negative safe integer as UInt64. */
export type UInt64 = number & Wire<"UInt64">;
/** A bigint as UInt64 (a plain bigint is Int64). */
export type UInt64n = bigint & Wire<"UInt64">;
