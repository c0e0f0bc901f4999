// Ids and stubs off the wire are checked like any id that arrives: a forged or foreign one is refused
// with a coded error naming what is wrong, never turned into a stub that calls somewhere unexpected.
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { idFromName } from "../../runtime/ids.ts";
import "../../runtime/rpc/stub.ts"; // registers the id and stub payload extensions
import { decodePayload, encodePayload } from "../../runtime/wire/payload.ts";

const plain = new Packr({ structuredClone: true });

/** An extension record as msgpackr writes one whose `write` returns a value: fixext1 `type`, then the value. */
function ext(type: number, fields: unknown): Uint8Array {
  return Uint8Array.from([0xd4, type, 0x00, ...plain.pack(fields)]);
}

function refusal(bytes: Uint8Array): unknown {
  try {
    return { decoded: decodePayload(bytes, "Room.join arguments") };
  } catch (error) {
    return error;
  }
}

describe("ids and stubs off the wire", () => {
  const id = idFromName("Room", "lobby");

  it("round-trips an id with its namespace and name", () => {
    const back = decodePayload(encodePayload([id], "t"), "t") as [typeof id];
    expect(back[0].toString()).toBe(id.toString());
    expect(back[0].name).toBe("lobby");
    expect(back[0].equals(id)).toBe(true);
  });

  it("refuses an id whose hex is not of its namespace", () => {
    const error = refusal(ext(0x65, ["Chat", id.toString(), "lobby"]));
    expect(error).toMatchObject({ code: "ERR_BAD_ID" });
    expect((error as Error).message).toBe(`Room.join arguments: a DurableObjectId arrived that cannot be used here: "${id.toString()}" is not an id of namespace Chat.`);
  });

  it("refuses an id that arrives with another id's name (ctx.id.name and the recorded name come from it)", () => {
    const error = refusal(ext(0x65, ["Room", id.toString(), "kitchen"]));
    expect(error).toMatchObject({ code: "ERR_BAD_ID" });
    expect((error as Error).message).toBe(`Room.join arguments: a DurableObjectId arrived that cannot be used here: its name "kitchen" is not the name of id ${id.toString()} (idFromName("kitchen") is another id).`);
    expect(refusal(ext(0x65, ["Room", id.toString(), null]))).toMatchObject({ decoded: expect.objectContaining({ name: undefined }) });
  });

  it("refuses malformed id fields", () => {
    for (const fields of [[], ["Room"], ["Room", 42, null], ["Room", id.toString(), 7], "Room"]) {
      const error = refusal(ext(0x65, fields));
      expect(error).toMatchObject({ code: "ERR_BAD_ID" });
      expect((error as Error).message).toContain("its encoding is malformed");
    }
  });

  it("refuses a stub of a cluster this process is not part of", () => {
    const error = refusal(ext(0x66, ["/tmp/sourdough-run-gone", "Room", id.toString(), "lobby"]));
    expect(error).toMatchObject({ code: "ERR_BAD_ID" });
    expect((error as Error).message).toContain('it belongs to a cluster this process is not part of ("/tmp/sourdough-run-gone")');
  });
});
