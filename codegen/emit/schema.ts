// Emits the Cap'n Proto schema (one file per project, schema.capnp): for each callable method a
// `<Class><Method>Params` struct (one field per parameter) and a `<Class><Method>Results` struct
// (`result`), then the structs and enums they use. Explicit ids and ordinals; pure IR → text.
import { childId } from "../ids.ts";
import { type CapnpField, type IrEnum, type IrMethod, type IrProject, type IrStruct, capnpFields, capnpTypeText, refStruct, usesRefs } from "../ir.ts";
import { banner } from "./banner.ts";

/** The text of schema.capnp. */
export function emitSchema(ir: IrProject): string {
  const out: string[] = [banner("#", ir).trimEnd()];
  out.push("#");
  out.push("# The wire contract of these Durable Object classes: for each method a Params struct (one field per");
  out.push("# parameter, in order) and a Results struct (`result`). A `hasX` Bool says whether an optional or");
  out.push("# nullable `x` is present; Data fields marked msgpack hold msgpackr bytes (structured clone).");
  out.push(`@${ir.fileId};`, "");
  for (const cls of ir.classes) {
    out.push(`# class ${cls.name} (${cls.source})`, "");
    for (const m of cls.methods) {
      out.push(`# ${cls.name}.${signature(m)}, method id ${m.id}`);
      out.push(struct(m.params), "", struct(m.results), "");
    }
  }
  for (const s of ir.structs) out.push(`# TypeScript: ${oneLine(s.ts)}`, struct(s), "");
  if (usesRefs(ir)) {
    const ref = { ...refStruct(), id: childId(ir.fileId, refStruct().name) };
    out.push("# A DurableObjectId or a Durable Object stub: the receiver rebuilds a working id or stub of the same");
    out.push("# object. `cluster` names a stub's cluster (empty for an id): a stub of another cluster is refused.");
    out.push(struct(ref), "");
  }
  for (const e of ir.enums) out.push(`# TypeScript: ${oneLine(e.ts)}`, enumText(e), "");
  return out.join("\n").replace(/\n+$/, "\n");
}

/** `increment(by?: number): number` */
export function signature(m: IrMethod): string {
  const params = m.params.fields.map((f) => `${f.name}${f.presence === "optional" || f.presence === "optionalNullable" || f.optional === true ? "?" : ""}: ${oneLine(f.ts)}`);
  return `${m.name}(${params.join(", ")}): ${oneLine(m.results.fields[0]?.ts ?? "void")}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ");
}

function struct(s: IrStruct): string {
  const lines = capnpFields(s).map((f) => `  ${f.capnpName} @${f.ordinal} :${capnpTypeText(f.type)};${comment(f)}`);
  return [`struct ${s.name} @${s.id} {`, ...lines, "}"].join("\n");
}

function comment(f: CapnpField): string {
  const notes: string[] = [];
  if (f.retired) notes.push(`retired: \`${f.field.name}\` was removed or retyped`);
  if (f.role === "has") notes.push(`\`${f.field.name}\` is present`);
  else if (f.role === "isNull") notes.push(`\`${f.field.name}\` is null (when not present)`);
  else {
    if (f.field.name !== f.capnpName && !f.retired) notes.push(`TypeScript: ${f.field.name}`);
    if (f.type.kind === "msgpack") notes.push(`msgpack: ${oneLine(f.type.ts)}`);
    if (f.type.kind === "ref") notes.push(f.type.of === "id" ? "a DurableObjectId" : "a Durable Object stub");
    if (f.type.kind === "list" && f.type.element.kind === "ref") notes.push(f.type.element.of === "id" ? "DurableObjectIds" : "Durable Object stubs");
  }
  return notes.length === 0 ? "" : `  # ${notes.join("; ")}`;
}

function enumText(e: IrEnum): string {
  const all = [...e.values.map((v) => ({ ...v, retired: false })), ...e.retired.map((v) => ({ ...v, retired: true }))].sort((a, b) => a.ordinal - b.ordinal);
  const lines = all.map((v) => {
    const note = v.retired ? `  # retired: ${JSON.stringify(v.value)}` : v.value !== v.capnpName ? `  # ${JSON.stringify(v.value)}` : "";
    return `  ${v.capnpName} @${v.ordinal};${note}`;
  });
  return [`enum ${e.name} @${e.id} {`, ...lines, "}"].join("\n");
}
