// The generated schemas against the official compiler: `capnp compile` accepts them, the ids we write
// are the ids capnp itself derives for those names, and every field sits where our layout (the one
// the generated codecs use) says: data offsets, pointer indexes and struct sizes from `capnp compile -o-`.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type IrProject, type IrStruct, capnpFields } from "../../codegen/ir.ts";
import { layoutStruct } from "../../codegen/layout.ts";
import { capnpAvailable, findStruct, loadSchema } from "../support/capnp-oracle.ts";
import { CASES, removeDir, tempDir } from "./support/fixtures.ts";

const haveCapnp = capnpAvailable();
if (!haveCapnp) console.warn("SKIPPED sourdough-gen schema tests: the `capnp` tool is not installed (apt-get install capnproto).");

const withSchema = CASES.filter((c) => c.name !== "empty");
const irOf = (dir: string): IrProject => JSON.parse(readFileSync(join(dir, "sourdough.ir.json"), "utf8")) as IrProject;
const allStructs = (ir: IrProject): IrStruct[] => [...ir.classes.flatMap((c) => c.methods.flatMap((m) => [m.params, m.results])), ...ir.structs];

describe.skipIf(!haveCapnp)("generated schema.capnp", { timeout: 60_000 }, () => {
  it.each(CASES)("$name: capnp compile accepts it", async (c) => {
    const schema = await loadSchema(join(c.expected, "schema.capnp"));
    expect(schema.fileId).toBe(irOf(c.expected).fileId);
  });

  it.each(withSchema)("$name: struct and enum ids are the ones capnp derives from the names", async (c) => {
    const ir = irOf(c.expected);
    const text = readFileSync(join(c.expected, "schema.capnp"), "utf8").replace(/^((?:struct|enum) \w+) @0x[0-9a-f]{16}/gm, "$1");
    const scratch = tempDir("schema");
    const file = join(scratch, `${c.name}.capnp`);
    writeFileSync(file, text);
    const derived = await loadSchema(file).finally(() => removeDir(scratch));
    for (const s of allStructs(ir)) expect(findStruct(derived, s.name).id, s.name).toBe(s.id);
    for (const e of ir.enums) expect(derived.enums[e.name]?.id, e.name).toBe(e.id);
  });

  it.each(withSchema)("$name: every field sits where the codecs put it", async (c) => {
    const ir = irOf(c.expected);
    const schema = await loadSchema(join(c.expected, "schema.capnp"));
    for (const s of allStructs(ir)) {
      const info = findStruct(schema, s.name);
      const layout = layoutStruct(s);
      expect({ data: info.dataWordCount, pointers: info.pointerCount }, s.name).toEqual({ data: layout.dataWords, pointers: layout.pointers });
      for (const f of layout.fields) {
        const slot = info.fields.find((x) => x.name === f.capnpName);
        if (slot === undefined || slot.kind !== "slot") throw new Error(`${s.name}.${f.capnpName} missing in capnp's schema`);
        expect(slot.ordinal, `${s.name}.${f.capnpName} ordinal`).toBe(f.ordinal);
        const ours = f.slot.kind === "data" ? { bits: f.slot.byte * 8 + f.slot.bit, pointer: null } : f.slot.kind === "pointer" ? { bits: null, pointer: f.slot.index } : { bits: null, pointer: null };
        expect({ bits: slot.bits?.start ?? null, pointer: slot.pointerIndex }, `${s.name}.${f.capnpName}`).toEqual(ours);
      }
      expect(info.fields.length, s.name).toBe(capnpFields(s).length);
    }
  });
});
