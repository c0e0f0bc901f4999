// Durable Object ids: 32 bytes shown as 64 lowercase hex characters. The first 16 bytes identify the
// object; the last 16 are a checksum over (namespace, first half), so an id made for one namespace is
// refused by another, as Cloudflare does. Names never reach the file system: only validated hex does.
import { createHash, randomBytes } from "node:crypto";
import { ErrorCode, SourdoughError, describeValue } from "./errors.ts";

const HEX_ID = /^[0-9a-f]{64}$/;
const NAMESPACE_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** An object's identity within a namespace (Cloudflare's `DurableObjectId`). */
export class DurableObjectId {
  readonly #hex: string;
  readonly #namespace: string;
  /** The name given to `idFromName`, when the id was made from one. */
  readonly name: string | undefined;
  /** @internal use a namespace's `idFromName` / `idFromString` / `newUniqueId`. */
  constructor(hex: string, name: string | undefined, namespace: string) {
    this.#hex = hex;
    this.#namespace = namespace;
    this.name = name;
  }
  /** @internal The namespace (class name) that made this id: what an id passed over RPC carries along. */
  static namespaceOf(id: DurableObjectId): string {
    return id.#namespace;
  }
  toString(): string {
    return this.#hex;
  }
  toJSON(): string {
    return this.#hex;
  }
  equals(other: DurableObjectId): boolean {
    return other instanceof DurableObjectId && other.#hex === this.#hex;
  }
}

function checksum(namespace: string, bodyHex: string): string {
  return createHash("sha256").update(`sourdough-id\0${namespace}\0${bodyHex}`).digest("hex").slice(0, 32);
}

/** Throws unless `name` can name a namespace (a class name: a JavaScript identifier). */
export function assertNamespaceName(name: unknown, where: string): asserts name is string {
  if (typeof name !== "string" || !NAMESPACE_NAME.test(name)) {
    throw new SourdoughError(
      ErrorCode.BAD_CLASS,
      `${where}: namespace name ${describeValue(name)} is not a JavaScript identifier. Use the Durable Object class name, e.g. "Counter".`,
    );
  }
}

export function idFromName(namespace: string, name: string): DurableObjectId {
  if (typeof name !== "string") {
    throw new SourdoughError(
      ErrorCode.BAD_ID,
      `${namespace}.idFromName: expected a string name, got ${describeValue(name)}. Pass a string such as "room-1".`,
    );
  }
  const body = createHash("sha256").update(`sourdough-name\0${namespace}\0${name}`).digest("hex").slice(0, 32);
  return new DurableObjectId(body + checksum(namespace, body), name, namespace);
}

/** Whether `hex` is the id `name` gives in `namespace` (a name that arrives with an id must be its own). */
export function isIdOfName(namespace: string, hex: string, name: string): boolean {
  return idFromName(namespace, name).toString() === hex;
}

export function newUniqueId(namespace: string): DurableObjectId {
  const body = randomBytes(16).toString("hex");
  return new DurableObjectId(body + checksum(namespace, body), undefined, namespace);
}

export function idFromString(namespace: string, hex: unknown): DurableObjectId {
  if (typeof hex !== "string" || !HEX_ID.test(hex)) {
    throw new SourdoughError(
      ErrorCode.BAD_ID,
      `${namespace}.idFromString: ${describeValue(hex)} is not a Durable Object id. An id is 64 lowercase hex characters, as returned by id.toString().`,
    );
  }
  if (checksum(namespace, hex.slice(0, 32)) !== hex.slice(32)) {
    throw new SourdoughError(
      ErrorCode.BAD_ID,
      `${namespace}.idFromString: id ${hex} was not made by namespace ${namespace}. Use the namespace that created it (ids are bound to their class).`,
    );
  }
  return new DurableObjectId(hex, undefined, namespace);
}

/** True when `hex` is well-formed and belongs to `namespace` (used where ids arrive off the wire). */
export function isValidId(namespace: string, hex: string): boolean {
  return HEX_ID.test(hex) && checksum(namespace, hex.slice(0, 32)) === hex.slice(32);
}
