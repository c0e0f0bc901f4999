// Emits codecs.ts: for each class and method, straight-line functions encoding and decoding the Params
// and Results structs of schema.capnp (no capnp-ts at run time), and the `codecs` table the runtime
// looks them up in. Only the helpers a project uses are emitted (generated code passes noUnused*).
import type { IrClass, IrMethod, IrProject, IrStruct, IrType } from "../ir.ts";
import { isIdentifier } from "../names.ts";
import { banner } from "./banner.ts";
import { type StructPlan, cyclicDefaults, listTypes, planStruct, typeKey } from "./codec-plan.ts";
import { codecImport } from "./codec-prelude.ts";
import { fieldRead, listReader, structReaders } from "./codec-read.ts";
import { fieldWrites, listWriter, stripStrings, structWriters } from "./codec-write.ts";

interface Reach {
  structs: Set<string>;
  direct: Set<string>;
  lists: Set<string>;
  enums: Set<string>;
}

/** The text of codecs.ts. */
export function emitCodecs(ir: IrProject): string {
  const structs = new Map(ir.structs.map((s) => [s.name, s]));
  const reach = reachable(ir, structs);
  const plans = new Map(ir.structs.filter((s) => reach.structs.has(s.name)).map((s) => [s.name, planStruct(s)]));
  const cyclic = cyclicDefaults(ir);
  const methods = ir.classes.flatMap((c) => c.methods.map((m) => ({ c, m })));
  const head: string[] = [banner("//", ir).trimEnd()];
  head.push("//");
  head.push("// Cap'n Proto codecs for schema.capnp: straight-line reads and writes of each Params and Results struct,");
  head.push("// byte-identical to capnp-ts for the same values. `codecs[className][methodName]` is the entry point.");
  head.push("// The reader, writer and msgpack helpers they call are sourdough's (`sourdough/codecs`).");
  head.push("");
  const out: string[] = [];
  if (methods.length === 0) {
    out.push("/** Codecs by class and method name: none, no class has RPC methods. */");
    out.push("export const codecs: Record<string, Record<string, MethodCodec>> = {};");
  } else {
    for (const e of ir.enums.filter((x) => reach.enums.has(x.name))) out.push(enumCode(e.name, [...e.values, ...e.retired.map((v) => ({ ...v, value: undefined }))]));
    for (const plan of plans.values()) {
      out.push(structWriters(plan, reach.direct.has(plan.struct.name)), structReaders(plan, reach.direct.has(plan.struct.name), { cyclic, depth: "depth + 1" }));
    }
    for (const t of listTypes(ir).filter((l) => reach.lists.has(typeKey(l)))) {
      if (t.kind === "list") out.push(listWriter(t, plans), listReader(t));
    }
    for (const { c, m } of methods) out.push(methodCode(c, m, cyclic));
    out.push("/** Codecs by class and method name; `id` is the method's stable id (Call.methodId). */");
    out.push("export const codecs: Record<string, Record<string, MethodCodec>> = {");
    for (const c of ir.classes) {
      out.push(`  ${key(c.name)}: {`);
      for (const m of c.methods) {
        const p = m.params.name;
        const r = m.results.name;
        out.push(`    ${key(m.name)}: { id: ${m.id}, encodeParams: encode_${p}, decodeParams: decode_${p}, encodeResult: encode_${r}, decodeResult: decode_${r} },`);
      }
      out.push("  },");
    }
    out.push("};");
  }
  const body = out.join("\n") + "\n";
  return [...head, codecImport(body), body].join("\n");
}

const key = (name: string): string => (isIdentifier(name) ? name : JSON.stringify(name));

// Structs, lists and enums reachable from the methods' live fields; `direct` = referenced by a field (not only as list elements).
function reachable(ir: IrProject, structs: ReadonlyMap<string, IrStruct>): Reach {
  const reach: Reach = { structs: new Set(), direct: new Set(), lists: new Set(), enums: new Set() };
  const visit = (t: IrType, direct: boolean): void => {
    if (t.kind === "enum") reach.enums.add(t.name);
    if (t.kind === "list") {
      reach.lists.add(typeKey(t));
      visit(t.element, false);
    }
    if (t.kind !== "struct") return;
    if (direct) reach.direct.add(t.name);
    if (reach.structs.has(t.name)) return;
    reach.structs.add(t.name);
    for (const f of structs.get(t.name)?.fields ?? []) visit(f.type, true);
  };
  for (const c of ir.classes) for (const m of c.methods) for (const f of [...m.params.fields, ...m.results.fields]) visit(f.type, true);
  return reach;
}

function enumCode(name: string, values: Array<{ value: string | undefined; ordinal: number }>): string {
  const byOrdinal: Array<string | undefined> = [];
  for (const v of values) byOrdinal[v.ordinal] = v.value;
  const live = values.filter((v): v is { value: string; ordinal: number } => v.value !== undefined).sort((a, b) => a.ordinal - b.ordinal);
  const expected = `one of ${live.map((v) => JSON.stringify(v.value)).join(", ")}`;
  return [
    `const ENUM_${name}: ReadonlyArray<string | undefined> = [${Array.from(byOrdinal, (v) => (v === undefined ? "undefined" : JSON.stringify(v))).join(", ")}];`,
    "",
    `function encodeEnum_${name}(w: Writer, v: unknown, at: string | number): number {`,
    "  switch (v) {",
    ...live.map((v) => `    case ${JSON.stringify(v.value)}:\n      return ${v.ordinal};`),
    "    default:",
    `      return w.fail(at, ${JSON.stringify(expected)}, v);`,
    "  }",
    "}",
    "",
    `function decodeEnum_${name}(r: Reader, n: number, what: string): string {`,
    `  const v = ENUM_${name}[n];`,
    `  return v === undefined ? r.fail(\`\${what}: unknown value \${n} of enum ${name} (is the sender's schema newer?)\`) : v;`,
    "}",
    "",
  ].join("\n");
}

function methodCode(c: IrClass, m: IrMethod, cyclic: ReadonlySet<string>): string {
  const where = `${c.name}.${m.name}`;
  const params = planStruct(m.params);
  const results = planStruct(m.results);
  const n = m.params.fields.length;
  const out: string[] = [];
  const argLabel = (i: number, name: string): string => JSON.stringify(`${where}, argument ${i + 1} (${name})`);
  const encodeParams = fieldWrites(params, (f) => `args[${f.index}]`, (f) => argLabel(f.index, f.field.name));
  out.push(...encoder(`encode_${m.params.name}`, "args: readonly unknown[]", params, [`if (args.length > ${n}) w.fail(${JSON.stringify(where)}, ${JSON.stringify(`at most ${n} argument${n === 1 ? "" : "s"}`)}, args.length);`, ...encodeParams]));
  const list = (exprs: string[]): string => (exprs.length === 0 ? "[]" : `[\n${exprs.map((e) => `    ${e},`).join("\n")}\n  ]`);
  out.push(...decoder(`decode_${m.params.name}`, "unknown[]", `${where} parameters`, params, list, cyclic));
  const encodeResult = fieldWrites(results, () => "value", () => JSON.stringify(`${where} result`));
  out.push(...encoder(`encode_${m.results.name}`, `${encodeResult.some((l) => /\bvalue\b/.test(stripStrings(l))) ? "value" : "_value"}: unknown`, results, encodeResult));
  out.push(...decoder(`decode_${m.results.name}`, "unknown", `${where} result`, results, (exprs) => exprs[0] ?? "undefined", cyclic));
  return out.join("\n");
}

function encoder(name: string, param: string, plan: StructPlan, body: string[]): string[] {
  const usesS = body.some((l) => /\bs\b/.test(stripStrings(l)));
  const [valueName, valueType] = param.split(": ") as [string, string];
  const used = valueName.replace(/^_/, "");
  return [
    `function ${name}(${used}: ${valueType}): Uint8Array {`,
    `  return encode(${used}, write_${name.replace(/^encode_/, "")});`,
    "}",
    "",
    `function write_${name.replace(/^encode_/, "")}(w: Writer, ${valueName}: ${valueType}): void {`,
    `  ${usesS ? "const s = " : ""}w.root(${plan.dataWords}, ${plan.pointers});`,
    ...body.map((l) => `  ${l}`),
    "}",
    "",
  ];
}

function decoder(name: string, returns: string, label: string, plan: StructPlan, wrap: (exprs: string[]) => string, cyclic: ReadonlySet<string>): string[] {
  const byIndex = [...plan.fields].sort((a, b) => a.index - b.index);
  const exprs = byIndex.map((f) => fieldRead(f, plan.struct.name, { cyclic, depth: "1" }));
  const result = wrap(exprs);
  const code = stripStrings(result);
  const locals = [
    ["dv", "r.dv"],
    ["d", "r.sd"],
    ["db", "r.sdb"],
    ["ps", "r.sp"],
    ["pc", "r.spc"],
  ].filter(([local]) => (local === "dv" ? /\bdv\./.test(code) : new RegExp(`\\b${local}\\b`).test(code)));
  return [
    `function ${name}(bytes: Uint8Array): ${returns} {`,
    `  const r = reader.reset(bytes, ${JSON.stringify(label)});`,
    `  r.root(${JSON.stringify(plan.struct.name)});`,
    ...locals.map(([local, value]) => `  const ${local} = ${value};`),
    `  return ${result};`,
    "}",
    "",
  ];
}
