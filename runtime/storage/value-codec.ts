// Stored values: V8's own serializer, as workerd uses, so everything the structured clone algorithm
// keeps survives (lone surrogates, -0, array holes, typed-array views and their buffers, cycles).
// Values that cannot be cloned raise a DataCloneError, as on Cloudflare.
import v8 from "node:v8";
import { ErrorCode } from "../errors.ts";
import { MAX_VALUE_BYTES } from "./sql-cursor.ts";

export function serializeValue(value: unknown, where: () => string): Buffer {
  let bytes: Buffer;
  try {
    const serializer = new v8.Serializer();
    serializer.writeHeader();
    serializer.writeValue(value);
    bytes = serializer.releaseBuffer();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    // A DOMException keeps its own numeric `code` (25, DATA_CLONE_ERR), as workerd's does.
    throw new DOMException(`${where()}: ${why} Store data: plain objects, arrays, strings, numbers, Dates, Maps, Sets, typed arrays.`, "DataCloneError");
  }
  if (bytes.length > MAX_VALUE_BYTES) {
    throw Object.assign(new Error(`${where()}: string or blob too big: SQLITE_TOOBIG. A value is ${bytes.length} bytes serialized; the limit is 2 MB.`), { code: ErrorCode.STORAGE });
  }
  return bytes;
}

export function deserializeValue(bytes: Uint8Array): unknown {
  const deserializer = new v8.Deserializer(bytes);
  deserializer.readHeader();
  return deserializer.readValue();
}
